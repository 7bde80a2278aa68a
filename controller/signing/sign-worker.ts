import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../../shared/errors.js';
import { signBatch, type SignBatchInput } from './sign-batch.js';

/**
 * Worker-thread entry (sign-worker-pool.ts): signs batches off the
 * controller's event loop. Messages come only from this process's own pool.
 */
parentPort?.on('message', (message: { id: number; input: SignBatchInput }) => {
  try {
    parentPort?.postMessage({ id: message.id, payloads: signBatch(message.input) });
  } catch (err) {
    parentPort?.postMessage({ id: message.id, error: errorMessage(err) });
  }
});
