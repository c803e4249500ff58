/*
 * What the cascade layer (cascade/classify.c) needs of a session beyond
 * the public calls of dyce.h. The session's fields stay private to the
 * runtime (session_state.h).
 */
#ifndef DYCE_RUNTIME_SESSION_H
#define DYCE_RUNTIME_SESSION_H

#include "../model/model.h"

const dyce_model *dyce__session_model(const dyce_session *s);
/* The current configuration (dyce_session_set_config / use_config). */
const dyce_config *dyce__session_config(const dyce_session *s);
int dyce__session_has_input(const dyce_session *s);
/* Runs one graph whose source has already run, at the configuration's
 * width level. */
void dyce__session_run_graph(dyce_session *s, size_t graph);
/* The output buffer of a graph that has run for the current input. */
const float *dyce__session_graph_output(const dyce_session *s, size_t graph);

#endif /* DYCE_RUNTIME_SESSION_H */
