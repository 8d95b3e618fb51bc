'use client';

import { useCallback, useContext, useEffect, useLayoutEffect, useRef, useSyncExternalStore } from 'react';
import { ChatSession, type ChatSessionOptions, type ChatSessionState } from '@farlabs/sdk';
import { FarMesh } from '@farlabs/sdk';
import type { ClientOptions } from '@farlabs/sdk';
import { FarMeshContext } from './context.js';

/** Session options, plus how to build a client when neither `client` nor a `FarMeshProvider` gives one. */
export interface UseFarMeshOptions extends ChatSessionOptions {
  clientOptions?: ClientOptions | undefined;
}

export interface UseFarMeshResult extends ChatSessionState {
  /** True while a request runs (`status` is `submitted` or `streaming`). */
  loading: boolean;
  chat: ChatSession['chat'];
  send: ChatSession['send'];
  reload: ChatSession['reload'];
  stop: ChatSession['stop'];
  setMessages: ChatSession['setMessages'];
  clearError: ChatSession['clearError'];
}

// Layout effects warn during server rendering on older React; effects run late enough there.
const useIsomorphicLayoutEffect = typeof document !== 'undefined' ? useLayoutEffect : useEffect;

/**
 * ```tsx
 * const { chat, loading } = useFarMesh();
 * const response = await chat(prompt);
 * ```
 * State lives in a `ChatSession`; options are read at each request (never stale); unmounting
 * aborts the running request.
 */
export function useFarMesh(options: UseFarMeshOptions = {}): UseFarMeshResult {
  const contextClient = useContext(FarMeshContext);
  const latest = useRef({ options, contextClient });
  useIsomorphicLayoutEffect(() => {
    latest.current = { options, contextClient };
  });

  const built = useRef<{ key: ClientOptions | undefined; client: FarMesh } | undefined>(undefined);
  const sessionRef = useRef<ChatSession | undefined>(undefined);
  if (sessionRef.current === undefined) {
    sessionRef.current = new ChatSession(() => {
      const { options: opts, contextClient: ctx } = latest.current;
      let client = opts.client ?? ctx;
      if (client === undefined) {
        // Built on first use, and again only when clientOptions changed identity.
        if (built.current === undefined || built.current.key !== opts.clientOptions) {
          built.current = { key: opts.clientOptions, client: new FarMesh(opts.clientOptions) };
        }
        client = built.current.client;
      }
      return { ...opts, client };
    });
  }
  const session = sessionRef.current;
  const state = useSyncExternalStore(session.subscribe, session.getSnapshot, session.getSnapshot);

  // Abort on unmount. The session itself survives, so StrictMode's mount-unmount-mount is harmless.
  useEffect(() => () => session.stop(), [session]);

  const chat = useCallback<ChatSession['chat']>((prompt, opts) => session.chat(prompt, opts), [session]);
  const send = useCallback<ChatSession['send']>((content, opts) => session.send(content, opts), [session]);
  const reload = useCallback<ChatSession['reload']>((opts) => session.reload(opts), [session]);
  const stop = useCallback(() => session.stop(), [session]);
  const setMessages = useCallback<ChatSession['setMessages']>((m) => session.setMessages(m), [session]);
  const clearError = useCallback(() => session.clearError(), [session]);

  return {
    ...state,
    loading: state.status === 'submitted' || state.status === 'streaming',
    chat,
    send,
    reload,
    stop,
    setMessages,
    clearError,
  };
}
