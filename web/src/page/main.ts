/** The page: two views, each with its own worker (cancelling a build leaves the open images alone). */
import { BuildView } from './build-view.js';
import { WorkerClient } from './client.js';
import { InspectView } from './inspect-view.js';

const workerUrl = new URL('./worker.js', import.meta.url);
new BuildView(new WorkerClient(workerUrl));
new InspectView(new WorkerClient(workerUrl));
document.body.dataset.ready = 'true';
