/** `mesh.models`: the models the mesh can serve (`GET /v1/models`, OpenAI's shape). */

import { MODELS_PATH } from '../internal/constants.js';
import type { ModelList, RequestOptions } from '../types.js';
import type { Requester } from './requester.js';

export class Models {
  /** @internal */
  constructor(private readonly request: Requester) {}

  /** `{ object: 'list', data: [{ id, object: 'model', created, owned_by }] }`. */
  async list(options: RequestOptions = {}): Promise<ModelList> {
    const body = await this.request('GET', MODELS_PATH, options);
    const data = (body as { data?: unknown }).data;
    return { object: 'list', data: Array.isArray(data) ? (data as ModelList['data']) : [] };
  }
}
