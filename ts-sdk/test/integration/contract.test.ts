// The SDK's wire shapes still match the server's OpenAPI document (generated from its pydantic models).
import { describe, expect, it } from 'vitest';
import { generateBody, parseDone } from '../../src/internal/wire.js';
import { serverEnv } from './env.js';

const { baseURL } = serverEnv();

type Schema = { $ref?: string; properties?: Record<string, Schema>; anyOf?: Schema[]; items?: Schema };

async function openapi(): Promise<{ paths: Record<string, Record<string, any>>; components: { schemas: Record<string, Schema> } }> {
  const response = await fetch(`${baseURL}/openapi.json`);
  expect(response.status).toBe(200);
  return response.json();
}

function resolve(doc: { components: { schemas: Record<string, Schema> } }, schema: Schema): Schema {
  while (schema.$ref) schema = doc.components.schemas[schema.$ref.split('/').pop()!]!;
  return schema;
}

describe('contract with the server', () => {
  it('the generate body uses only fields the server knows', async () => {
    const doc = await openapi();
    const op = doc.paths['/mesh/inference/generate']!['post'];
    const fields = Object.keys(resolve(doc, op.requestBody.content['application/json'].schema).properties ?? {});
    const full = generateBody(
      { prompt: 'x', maxTokens: 1, model: 'm', requestId: 'r', userWallet: '0x0', temperature: 0, topP: 1, stop: 's', seed: 1, region: 'eu' },
      true,
    );
    const chat = generateBody({ messages: [{ role: 'user', content: 'x' }] }, false);
    for (const key of [...Object.keys(full), ...Object.keys(chat)]) expect(fields).toContain(key);
  });

  it('the SDK reads every field of the server answer', async () => {
    const doc = await openapi();
    const op = doc.paths['/mesh/inference/generate']!['post'];
    const schema = resolve(doc, op.responses['200'].content['application/json'].schema);
    const serverFields = Object.keys(schema.properties ?? {}).sort();
    // parseDone reads these wire fields (snake_case); a new server field must be mapped here too.
    const read = ['request_id', 'session_id', 'model_id', 'text', 'finish_reason', 'usage', 'cost_far', 'route', 'time_to_first_token_ms'];
    expect(serverFields).toEqual([...read].sort());
    const sample = Object.fromEntries(read.map((k) => [k, k === 'usage' ? {} : k === 'route' ? [] : k === 'cost_far' ? '1' : 'v']));
    expect(Object.keys(parseDone(sample)).length).toBe(read.length);
  });
});
