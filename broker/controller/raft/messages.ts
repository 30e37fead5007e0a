/**
 * Raft wire messages and log entries, shared by the sans-I/O core, storage and transport.
 *
 * Entries carry an opaque `payload` string (JSON of metadata records, chosen by the layer above);
 * `payload: null` marks the no-op a leader appends at the start of its term so that it can commit
 * (Raft §5.4.2: a leader only counts replicas for entries of its own term).
 *
 * Messages (all carry the sender's `term`, except that a granted pre-vote echoes the proposed term):
 * - `vote-req`  : RequestVote; `pre: true` is a PreVote (Raft thesis §9.6) that changes no state.
 * - `vote-resp` : the answer; `term` is the voter's term (or, for a granted pre-vote, the proposed term).
 * - `append-req`: AppendEntries (also the heartbeat), push-based from the leader.
 * - `append-resp`: `success` with the highest index known to match, or a rejection with `hintIndex`,
 *   the follower's guess of the last index that may still match.
 * - `snapshot-req`: InstallSnapshot, for a follower that needs entries the leader has compacted away.
 * `append-req` and `snapshot-req` carry `sentMs`, the leader's monotonic clock when it sent them; the
 * follower echoes it in its `append-resp` (`echoMs`), so the leader knows how recently each follower
 * heard from it: the base of its lease (core.ts `leaseEndMs`). Both are optional on the wire.
 *
 * `parseMessage` validates untrusted input from the wire once, at the boundary (house style 8).
 */

export type Entry = { term: number; index: number; payload: string | null };

export type VoteRequest = { type: 'vote-req'; term: number; lastLogIndex: number; lastLogTerm: number; pre: boolean };
export type VoteResponse = { type: 'vote-resp'; term: number; granted: boolean; pre: boolean };
export type AppendRequest = {
  type: 'append-req';
  term: number;
  prevLogIndex: number;
  prevLogTerm: number;
  entries: Entry[];
  leaderCommit: number;
  sentMs?: number;
};
export type AppendResponse = { type: 'append-resp'; term: number; success: boolean; matchIndex: number; hintIndex: number; echoMs?: number };
/**
 * InstallSnapshot (Raft §7; KRaft's FetchSnapshot, pushed instead of pulled): the leader's newest
 * snapshot, sent to a follower whose next index lies below the leader's log start. `data` is the
 * state machine's opaque image at `index`, whose entry has term `lastTerm`. The follower answers
 * with an `append-resp` (success, matchIndex = index). One message carries the whole snapshot
 * (metadata images are small; the transport bounds a frame at 64 MiB).
 */
export type SnapshotRequest = { type: 'snapshot-req'; term: number; index: number; lastTerm: number; data: string; sentMs?: number };

export type Message = VoteRequest | VoteResponse | AppendRequest | AppendResponse | SnapshotRequest;

/** A state-machine snapshot at a committed index (`term` is that entry's term). */
export type Snapshot = { index: number; term: number; data: string };

/** An optional clock reading (`sentMs`, `echoMs`): absent, or a finite number. */
function optionalMs(m: Record<string, unknown>, field: string): { ok: boolean; value?: number } {
  const v = m[field];
  if (v === undefined) return { ok: true };
  return typeof v === 'number' && Number.isFinite(v) ? { ok: true, value: v } : { ok: false };
}

function isNat(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Validates one log entry from untrusted input; null when it is not a well-formed entry. */
export function parseEntry(x: unknown): Entry | null {
  if (typeof x !== 'object' || x === null) return null;
  const e = x as Record<string, unknown>;
  if (!isNat(e['term']) || !isNat(e['index']) || e['index'] < 1) return null;
  const payload = e['payload'];
  if (payload !== null && typeof payload !== 'string') return null;
  return { term: e['term'], index: e['index'], payload };
}

/** Validates a Raft message from untrusted input; null when malformed. */
export function parseMessage(x: unknown): Message | null {
  if (typeof x !== 'object' || x === null) return null;
  const m = x as Record<string, unknown>;
  const term = m['term'];
  if (!isNat(term)) return null;
  switch (m['type']) {
    case 'vote-req': {
      const { lastLogIndex, lastLogTerm, pre } = m;
      if (!isNat(lastLogIndex) || !isNat(lastLogTerm) || typeof pre !== 'boolean') return null;
      return { type: 'vote-req', term, lastLogIndex, lastLogTerm, pre };
    }
    case 'vote-resp': {
      const { granted, pre } = m;
      if (typeof granted !== 'boolean' || typeof pre !== 'boolean') return null;
      return { type: 'vote-resp', term, granted, pre };
    }
    case 'append-req': {
      const { prevLogIndex, prevLogTerm, leaderCommit, entries } = m;
      if (!isNat(prevLogIndex) || !isNat(prevLogTerm) || !isNat(leaderCommit) || !Array.isArray(entries)) return null;
      const parsed: Entry[] = [];
      for (let i = 0; i < entries.length; i++) {
        const e = parseEntry(entries[i]);
        if (e === null || e.index !== prevLogIndex + 1 + i || e.term > term) return null;
        parsed.push(e);
      }
      const sent = optionalMs(m, 'sentMs');
      if (!sent.ok) return null;
      const req: AppendRequest = { type: 'append-req', term, prevLogIndex, prevLogTerm, entries: parsed, leaderCommit };
      if (sent.value !== undefined) req.sentMs = sent.value;
      return req;
    }
    case 'append-resp': {
      const { success, matchIndex, hintIndex } = m;
      if (typeof success !== 'boolean' || !isNat(matchIndex) || !isNat(hintIndex)) return null;
      const echo = optionalMs(m, 'echoMs');
      if (!echo.ok) return null;
      const resp: AppendResponse = { type: 'append-resp', term, success, matchIndex, hintIndex };
      if (echo.value !== undefined) resp.echoMs = echo.value;
      return resp;
    }
    case 'snapshot-req': {
      const { index, lastTerm, data } = m;
      if (!isNat(index) || index < 1 || !isNat(lastTerm) || lastTerm < 1 || lastTerm > term || typeof data !== 'string') return null;
      const sent = optionalMs(m, 'sentMs');
      if (!sent.ok) return null;
      const req: SnapshotRequest = { type: 'snapshot-req', term, index, lastTerm, data };
      if (sent.value !== undefined) req.sentMs = sent.value;
      return req;
    }
    default:
      return null;
  }
}
