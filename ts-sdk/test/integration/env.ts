/** The real server to test against; missing settings fail the run rather than skip it. */
export function serverEnv(): { baseURL: string; apiKey: string; model: string | undefined } {
  const baseURL = process.env['FARLABS_BASE_URL'];
  const apiKey = process.env['FARLABS_API_KEY'];
  if (!baseURL || !apiKey) {
    throw new Error('set FARLABS_BASE_URL and FARLABS_API_KEY, or run: .venv/bin/python ts-sdk/scripts/with-mesh.py -- npm run test:integration -w ts-sdk');
  }
  return { baseURL, apiKey, model: process.env['FARLABS_TEST_MODEL_ID'] };
}
