import { useCallback, useEffect, useMemo, useState } from 'react';
import { FarMesh } from '@farlabs/sdk';
import { FarMeshProvider, useFarMesh } from '@farlabs/sdk/react';
import { appTokenFromKey, clearToken, loadAppToken, storeAppToken, takeToken, walletOf, walletSignIn } from './token.js';

const POLL_MS = 5000;

/** Poll a loader every ~5 s; keeps the last good data while a later poll fails. A 401 (the sign-in expired or
 * was never valid) goes to `onUnauthorized` instead: no card can recover from it. */
function usePoll(load, onUnauthorized) {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    let live = true;
    const tick = () => load().then((data) => live && setState({ data, error: null }), (error) => {
      if (!live) return;
      if (error?.status === 401) onUnauthorized(error);
      else setState((s) => ({ data: s.data, error }));
    });
    tick();
    const id = setInterval(tick, POLL_MS);
    return () => { live = false; clearInterval(id); };
  }, [load, onUnauthorized]);
  return state;
}

function Card({ title, state, empty, children }) {
  let body;
  if (state.error && !state.data) body = <p className="error">Error: {state.error.message}</p>;
  else if (!state.data) body = <p className="muted">Loading…</p>;
  else if (empty(state.data)) body = <p className="muted">Nothing yet.</p>;
  else body = children(state.data);
  return <section className="card"><h2>{title}</h2>{body}</section>;
}

/** An exact FAR amount from the API ("0.500000000000000000") as people write it ("0.5"); no float rounding. */
export const exactFar = (s) => { const t = String(s); return t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t; };

/** The same, cut (never rounded) to 6 decimals or 3 significant digits, whichever is longer; exact on hover
 * and in `data-far`. */
export function far(s) {
  const exact = exactFar(s);
  const [whole, frac = ''] = exact.split('.');
  const keep = Math.max(6, frac.search(/[1-9]/) + 3);
  const shown = frac.length <= keep ? exact : `${whole}.${frac.slice(0, keep)}…`;
  return <span className="far" data-far={exact} title={`${exact} FAR`}>{shown}</span>;
}

const ago = (t) => (t ? `${Math.max(0, Math.round(Date.now() / 1000 - Date.parse(t) / 1000))} s ago` : 'never');

export function NodeStatus({ state }) {
  return (
    <Card title="Nodes" state={state} empty={(d) => !d.nodes?.length}>
      {(d) => <ul>{d.nodes.map((n) => (
        <li key={n.node_id} className="node">
          <span className={`dot ${n.status === 'online' ? 'on' : 'off'}`} />
          <b>{n.node_name}</b> {n.status}
          <span className="muted"> · uptime {Math.round(n.uptime_s / 60)} min · last seen {ago(n.last_seen)}</span>
        </li>))}</ul>}
    </Card>
  );
}

export function HardwareStats({ state }) {
  return (
    <Card title="Hardware" state={state} empty={(d) => !d.nodes?.length}>
      {(d) => <ul>{d.nodes.map((n) => { const h = n.hardware ?? {}; return (
        <li key={n.node_id}>{h.gpu_name ?? `CPU (${h.cpu_count ?? '?'} cores)`}{' '}
          {h.vram_total_gb != null ? `VRAM ${h.vram_used_gb ?? '?'}/${h.vram_total_gb} GB` : h.ram_total_gb != null ? `RAM ${h.ram_used_gb ?? '?'}/${h.ram_total_gb} GB` : ''}
          {h.gpu_temp_c != null ? ` · ${h.gpu_temp_c} °C` : ''}</li>); })}</ul>}
    </Card>
  );
}

export function EarningsChart({ state }) {
  return (
    <Card title="Earnings (FAR per day)" state={state}
      empty={(d) => !d.daily?.some((x) => Number(x.far) > 0) && Number(d.paid_far) === 0 && Number(d.unpaid_far) === 0}>
      {(d) => {
        const pts = d.daily.map((x) => Number(x.far));
        const max = Math.max(...pts, 1e-18); const w = 300; const h = 100; const bw = w / pts.length;
        return (<>
          <p className="big">{far(d.paid_far)} paid · {far(d.unpaid_far)} unpaid FAR</p>
          <svg viewBox={`0 0 ${w} ${h}`} role="img" aria-label="FAR per day">
            {pts.map((v, i) => <rect key={i} x={i * bw + 1} width={bw - 2} y={h - (v / max) * h} height={(v / max) * h}><title>{String(d.daily[i].date)}: {exactFar(d.daily[i].far)} FAR</title></rect>)}
          </svg>
          <p className="axis muted"><span>{String(d.daily[0].date)}</span><span>{String(d.daily[d.daily.length - 1].date)}</span></p>
          <ul className="by-node">{d.by_node.map((n) => <li key={n.node_id}><b>{n.node_name}</b> {far(n.earned_far)} FAR
            <span className="muted"> · {n.tokens} tokens · {far(n.unpaid_far)} unpaid</span></li>)}</ul></>);
      }}
    </Card>
  );
}

/** The transaction: a link to the chain's explorer when it has one (a local chain has none), else the hash. */
function TxLink({ p }) {
  if (!p.tx_hash) return p.status;
  const short = <code title={p.tx_hash}>{p.tx_hash.slice(0, 10)}…</code>;
  return p.tx_url ? <a href={p.tx_url} target="_blank" rel="noopener noreferrer">{short}</a> : short;
}

export function PaymentHistory({ state }) {
  return (
    <Card title="Payments" state={state} empty={(d) => !d.payments?.length}>
      {(d) => <table><thead><tr><th>Date</th><th>FAR</th><th>Tx</th></tr></thead><tbody>
        {d.payments.map((p, i) => <tr key={p.tx_hash ?? i}><td>{String(p.date).slice(0, 10)}</td><td>{far(p.amount_far)}</td>
          <td><TxLink p={p} /></td></tr>)}
      </tbody></table>}
    </Card>
  );
}

function Chat({ onForgetKey }) {
  const { messages, send, loading, error, stop } = useFarMesh();
  const [text, setText] = useState('');
  const submit = (e) => { e.preventDefault(); if (text.trim()) { send(text); setText(''); } };
  return (<>
    {messages.map((m, i) => <p key={i} className={m.role}><b>{m.role}:</b> {typeof m.content === 'string' ? m.content : ''}</p>)}
    {error && <p className="error">{error.message}</p>}
    <form onSubmit={submit}><input value={text} onChange={(e) => setText(e.target.value)} placeholder="Ask the mesh…" />
      {loading ? <button type="button" onClick={stop}>Stop</button> : <button>Send</button>}</form>
    <button type="button" className="link" onClick={onForgetKey}>Use another API key</button>
  </>);
}

/** Streams through useFarMesh. Inference is billed to an API key, never to a wallet sign-in (which anyone can make),
 * so the playground asks for one and trades it for a short-lived token (see token.js). */
function Playground() {
  const [token, setToken] = useState(loadAppToken);
  const [draft, setDraft] = useState('');
  const [err, setErr] = useState(null);
  const mesh = useMemo(() => token && new FarMesh({ apiKey: token, baseURL: window.location.origin }), [token]);
  const use = (e) => {
    e.preventDefault();
    if (!draft.trim()) return;
    appTokenFromKey(draft.trim()).then((t) => { storeAppToken(t); setToken(t); setDraft(''); setErr(null); }, setErr);
  };
  const forget = () => { storeAppToken(null); setToken(null); };
  return (
    <section className="card playground"><h2>Playground</h2>
      {mesh ? <FarMeshProvider client={mesh}><Chat onForgetKey={forget} /></FarMeshProvider> : (<>
        <p className="muted">Try the mesh with an API key (<code>fl_…</code>) from this server&apos;s operator.</p>
        <form onSubmit={use}><input type="password" aria-label="API key" value={draft} onChange={(e) => setDraft(e.target.value)}
          placeholder="fl_…" autoComplete="off" /><button>Use key</button></form>
        {err && <p className="error">{err.message}</p>}</>)}
    </section>
  );
}

function Dashboard({ token, wallet, onSignOut }) {
  const mesh = useMemo(() => new FarMesh({ apiKey: token, baseURL: window.location.origin }), [token]); // provider data
  const p = useMemo(() => mesh.provider(wallet), [mesh, wallet]);
  const expired = useCallback(() => onSignOut('Your sign-in has expired or is not valid here. Sign in again.'), [onSignOut]);
  const nodes = usePoll(useMemo(() => () => p.nodes(), [p]), expired);
  const earnings = usePoll(useMemo(() => () => p.earnings(), [p]), expired);
  const payments = usePoll(useMemo(() => () => p.payments(), [p]), expired);
  return (<>
      <header><h1>Far Mesh</h1><code>{wallet}</code><button onClick={() => onSignOut(null)}>Sign out</button></header>
      <main><NodeStatus state={nodes} /><HardwareStats state={nodes} /><EarningsChart state={earnings} />
        <PaymentHistory state={payments} /><Playground /></main>
  </>);
}

export function App() {
  const [token, setToken] = useState(takeToken);
  const [err, setErr] = useState(null);
  const signOut = useCallback((reason) => { clearToken(); setToken(null); setErr(reason ? new Error(reason) : null); }, []);
  const wallet = token && walletOf(token);
  useEffect(() => { if (token && !wallet) signOut('That sign-in link is not valid. Run `far-node dashboard` for a new one.'); },
    [token, wallet, signOut]);
  if (token && wallet) return <Dashboard token={token} wallet={wallet} onSignOut={signOut} />;
  return (
    <main className="signin"><h1>Far Mesh provider dashboard</h1>
      <p>Open the link <code>far-node dashboard</code> prints, or sign in with a browser wallet.</p>
      <button onClick={() => walletSignIn().then(setToken, setErr)}>Sign in with wallet</button>
      {err && <p className="error">{err.message}</p>}</main>
  );
}
