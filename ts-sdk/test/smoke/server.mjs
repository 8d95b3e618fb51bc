// A tiny loopback server speaking the protocol's inference endpoint, for the smoke tests of the
// built package (real sockets, real fetch; the real reference server comes in integration tests).
import { createServer } from 'node:http';

const done = (text) => ({
  request_id: 'req_smoke', session_id: 's', model_id: 'm', finish_reason: 'length',
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }, cost_far: '0.0002', text,
  route: [{ node_id: 'n', peer_id: 'p', start_block: 0, end_block: 30 }],
});

export async function startServer() {
  let attempts = 0;
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      if (req.headers.authorization !== 'Bearer fl_smoke') {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'authentication_error', code: 'invalid_api_key', message: 'unknown key' } }));
        return;
      }
      const body = JSON.parse(raw);
      attempts += 1;
      // The first attempt of each call is turned away, to prove the built package retries.
      if (attempts % 2 === 1) {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
        res.end(JSON.stringify({ error: { type: 'overloaded_error', code: 'no_capacity', message: 'busy' } }));
        return;
      }
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(done('Hello mesh')));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_smoke' });
      res.write(`data: ${JSON.stringify({ token: 'Hello', tokens_generated: 1, cost_far: '0.0001' })}\n\n`);
      res.write(': keep-alive\n\n');
      res.write(`data: ${JSON.stringify({ token: ' mesh', tokens_generated: 2, cost_far: '0.0002' })}\n\n`);
      res.end(`event: done\ndata: ${JSON.stringify(done('Hello mesh'))}\n\n`);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, baseURL: `http://127.0.0.1:${server.address().port}` };
}
