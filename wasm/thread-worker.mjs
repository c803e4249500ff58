// A dyce thread in a browser (a module Worker started by wasm/threads.mjs).
import { runThread } from './thread-start.mjs';

self.onmessage = (e) => runThread(e.data, (message) => self.postMessage(message));
