import { runService } from '@lab/platform/run-service';
import { untracedPath, untracedRequest } from '@lab/platform/telemetry';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { buildApp } from './app.ts';
import { loadGatewayConfig } from './config.ts';

await runService({
  loadConfig: loadGatewayConfig,
  buildApp,
  describe: ({ upstreams }) => ({ upstreams }),
  edge: true,
  // One client span per attempt at a replica: a retry is a second span, on another address.
  instrumentations: () => [
    new UndiciInstrumentation({ ignoreRequestHook: (request) => untracedRequest() || untracedPath(request.path) }),
  ],
});
