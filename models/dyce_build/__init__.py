"""dyce's model builder: any PyTorch classifier + an image folder -> an
adaptive .dyce package (exits on the frozen backbone, tiny savers, records,
the DyCE/TinySaver search, a report). `models/build.py` is the command
line; docs/MODELS.md describes the steps."""
