/**
 * Cloud Functions entry module (package.json `main` after `npm run build`). Cloud Functions runs
 * functions-framework with FUNCTION_TARGET set to the deployed function's name: only that function's
 * entry is loaded (its module under shared/pipeline and, on the first invocation, the adapters of its
 * root), not every function's. Without FUNCTION_TARGET (a bare functions-framework), every entry is.
 */
import { CLOUD_FUNCTIONS, PUBLIC_HTTP_FUNCTIONS } from '../infra/runtime/registry.js';

const all = [...CLOUD_FUNCTIONS, ...PUBLIC_HTTP_FUNCTIONS.map((f) => f.name)];
const target = process.env.FUNCTION_TARGET;
if (target !== undefined && !all.includes(target)) throw new Error(`FUNCTION_TARGET '${target}' is not a function (${all.join(', ')})`);
for (const name of target === undefined ? all : [target]) await import(`./${name}/index.js`);
