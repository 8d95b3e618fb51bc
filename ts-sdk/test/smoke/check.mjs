// Shared assertions for the ESM and CJS smoke tests of the built package.
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';

export async function check(sdk, react, flavour) {
  assert.equal(typeof sdk.FarMesh, 'function', 'FarMesh export');
  assert.equal(typeof react.useFarMesh, 'function', 'useFarMesh export');
  assert.equal(typeof react.FarMeshProvider, 'function', 'FarMeshProvider export');
  const { server, baseURL } = await startServer();
  try {
    const mesh = new sdk.FarMesh({ apiKey: 'fl_smoke', baseURL });
    const response = await mesh.chat('Explain quantum computing');
    assert.equal(response.text, 'Hello mesh');
    assert.equal(response.costFar, '0.0002');
    const stream = await mesh.chatStream('Explain quantum computing');
    let text = '';
    for await (const token of stream) text += token;
    assert.equal(text, 'Hello mesh');
    assert.equal(stream.usage.totalTokens, 5);
    await assert.rejects(new sdk.FarMesh({ apiKey: 'fl_wrong', baseURL }).chat('x'), (error) => {
      assert.ok(error instanceof sdk.AuthenticationError);
      assert.ok(error instanceof sdk.FarLabsError);
      return true;
    });
  } finally {
    server.close();
  }
  console.log(`smoke ${flavour}: ok`);
}
