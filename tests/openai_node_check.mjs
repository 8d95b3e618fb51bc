// The official `openai` npm client, unchanged, against a Far Mesh server: `node openai_node_check.mjs BASE_URL KEY MODEL`.
// Prints one JSON line with what it saw; tests/test_openai_node.py asserts on it.
import OpenAI from "openai";

const [baseURL, apiKey, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey, maxRetries: 0 });
const messages = [{ role: "user", content: "Hello" }];

const completion = await client.chat.completions.create({ model, messages, max_tokens: 6, temperature: 0 });
let streamed = "";
let usage = null;
let finish = null;
const stream = await client.chat.completions.create({
  model, messages, max_tokens: 6, temperature: 0, stream: true, stream_options: { include_usage: true },
});
for await (const chunk of stream) {
  if (chunk.choices.length) {
    streamed += chunk.choices[0].delta.content ?? "";
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  if (chunk.usage) usage = chunk.usage;
}
const models = (await client.models.list()).data.map((m) => m.id);
let notFound = null;
try {
  await client.chat.completions.create({ model: "no/such-model", messages });
} catch (err) {
  notFound = { status: err.status, isNotFound: err instanceof OpenAI.NotFoundError };
}
console.log(JSON.stringify({
  text: completion.choices[0].message.content, object: completion.object, usage: completion.usage,
  streamed, streamUsage: usage, finish, models, notFound,
}));
