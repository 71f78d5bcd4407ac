/**
 * What a start finds in the spool's files before it changes any: whether checkpoint.json can
 * be trusted, where loading resumes, which files it removes, and which records were removed
 * outside the collector while it was stopped. Pure: `openSpool` acts on it (and reports the
 * records gone as `spool records gone`), `collector spool status` only says it.
 */
import { checkpointProblem, type CheckpointFile, type Position } from './checkpoint.ts'
import { readReported, type ReportedGone } from './reported.ts'
import { fileSize, listCounts, listSegments, pendingRestores, readSegmentCount, restoreSize, segmentPath } from './segments.ts'

/** The spool's files as listed: what `inspectSpool` reads. */
export interface SpoolFiles {
  checkpoint: CheckpointFile
  /** Segment sequence -> size in bytes, oldest first. */
  segments: ReadonlyMap<number, number>
  /** Sequences of the `.events` count files. */
  counts: readonly number[]
  /** Whether the count file of `seq` says the segment was `bytes` long (see `readSegmentCount`). */
  countMatches(seq: number, bytes: number): boolean
  /** records-gone.json: what an earlier start reported (src/spool/reported.ts), or null. */
  reported: ReportedGone | null
}

export interface SpoolFindings {
  /** Why checkpoint.json cannot be trusted (loading replays from the oldest segment), or null. */
  problem: string | null
  /** Segments before the checkpoint: loaded, left by a crash before their deletion. */
  loaded: number[]
  /** The segments kept: sequence -> size. */
  sizes: Map<number, number>
  /** Count files whose segment is not kept. */
  orphanCounts: number[]
  /** Where loading resumes. */
  resumeAt: Position
  /** The sequence of the segment the start opens for new records. */
  activeSeq: number
  /**
   * Records gone, not reported yet: each from `offset` of `segment` to its end (offset 0: the
   * whole segment), oldest first. The start reports them.
   */
  lost: Position[]
  /** Records gone that an earlier start reported (records-gone.json) and loading has not passed yet, oldest first: not again. */
  lostReported: Position[]
}

/**
 * Lists the spool in `dir` without changing it: its segments as a start finds them, the
 * copies of a deleted active segment it puts back (`adoptRestoredSegments`) included.
 */
export function readSpoolFiles(dir: string, checkpoint: CheckpointFile): SpoolFiles {
  const listed = listSegments(dir).map((seq) => [seq, fileSize(segmentPath(dir, seq))] as const)
  const restored = pendingRestores(dir).map((seq) => [seq, restoreSize(dir, seq)] as const)
  return {
    checkpoint,
    segments: new Map([...listed, ...restored].sort(([a], [b]) => a - b)),
    counts: listCounts(dir),
    countMatches: (seq, bytes) => readSegmentCount(dir, seq, bytes) !== null,
    reported: readReported(dir),
  }
}

export function inspectSpool(files: SpoolFiles): SpoolFindings {
  const written = files.checkpoint
  const problem = written.problem ?? checkpointProblem(written.position, files.segments)
  // Replaying what loaded already is harmless (loads are idempotent); deleting by it is not.
  const committed = problem === null ? written.position : { segment: 0, offset: 0 }
  const loaded = [...files.segments.keys()].filter((seq) => seq < committed.segment)
  const sizes = new Map([...files.segments].filter(([seq]) => seq >= committed.segment))
  // The checkpoint's own segment gone: the collector never deletes it, and empties, not
  // deletes, loaded ones a failed checkpoint write left behind it, so it was removed outside
  // the collector while stopped, those after it up to the first left with it. Not for a
  // checkpoint an earlier version wrote (no crc): that version deleted them. Its count file,
  // if left, tells a checkpoint at its end (nothing unloaded in it).
  const lostFrom = problem === null && written.sealed && committed.segment > 0 && !files.segments.has(committed.segment) ? committed : null
  const lostInOwn = lostFrom !== null && !files.countMatches(lostFrom.segment, lostFrom.offset)
  // The checkpoint's own count file is kept while the checkpoint names its segment: removed,
  // the next start (the database still down) took its end for records gone.
  const orphanCounts = files.counts.filter((seq) => !sizes.has(seq) && seq !== lostFrom?.segment)
  const existing = [...sizes.keys()]
  // No checkpoint written yet (nothing loaded since the spool began): the collector has deleted
  // no segment, so one whose count file is left, before the first segment left, was removed
  // outside it while it was stopped (the oldest files, to free disk).
  const lostBefore = problem === null && written.position.segment === 0 ? orphanCounts.filter((seq) => existing[0] === undefined || seq < existing[0]) : []
  // Past those too: a new active segment under a lost one's number would be reported as lost.
  const activeSeq = Math.max(committed.segment, ...existing, ...lostBefore, 0) + 1
  const resumeAt = sizes.has(committed.segment) ? committed : { segment: existing[0] ?? activeSeq, offset: 0 }
  // Segments are numbered one after another and go oldest first, once loaded: a gap between
  // two left is one removed outside the collector while it was stopped.
  const gone = lostBefore.map((segment) => ({ segment, offset: 0 }))
  if (lostFrom && lostInOwn) gone.push(lostFrom)
  for (let seq = lostFrom ? lostFrom.segment + 1 : existing[0] ?? activeSeq; seq < activeSeq; seq++) if (!sizes.has(seq)) gone.push({ segment: seq, offset: 0 })
  // Kept (and shown by `spool status`) until loading passes them, as a gap is seen until then:
  // an oldest segment's loss, seen by its count file, is not seen again once that is removed.
  // Not one whose segment is back (a file put back from a backup): nothing of it is gone now.
  const reported = trustedReport(files.reported, Math.max(committed.segment, ...files.segments.keys(), 0))
    .filter((p) => p.segment >= committed.segment && !sizes.has(p.segment))
  const known = (p: Position) => reported.some((r) => r.segment === p.segment && r.offset === p.offset)
  return { problem, loaded, sizes, orphanCounts, resumeAt, activeSeq, lost: gone.filter((p) => !known(p)), lostReported: reported }
}

/**
 * The losses `reported` lists, if its numbers still name the same segments: the segment its
 * start opened is left, or loaded (`newest`, the checkpoint's segment or the newest left, is at
 * or past it). Numbers go up from there; only removing every newer file lets a start (of an
 * earlier binary, which ignores the file) number segments under them again.
 */
function trustedReport(reported: ReportedGone | null, newest: number): Position[] {
  return reported !== null && newest >= reported.opened ? reported.gone : []
}

/** What records-gone.json holds after a start that reported `found.lost`: those and the ones reported before, oldest first. */
export function reportedAfterStart(found: SpoolFindings): ReportedGone {
  const gone = [...found.lostReported, ...found.lost].sort((a, b) => a.segment - b.segment || a.offset - b.offset)
  return { gone, opened: found.activeSeq }
}
