// Every limit Tessera enforces, in one place (TigerBeetle style). Units are in the names.
// Sources: AWS S3 quotas (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html)
// and the API reference pages named beside each limit.

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Largest single PUT body (AWS: 5 GiB). */
export const putObjectSizeMaxBytes = 5 * GiB;
/** Largest object assembled by multipart upload (AWS: 5 TiB). */
export const objectSizeMaxBytes = 5 * 1024 * GiB;
/** Smallest part other than the last in CompleteMultipartUpload (AWS: 5 MiB). */
export const partSizeMinBytes = 5 * MiB;
/** Largest part (AWS: 5 GiB). */
export const partSizeMaxBytes = 5 * GiB;
/** Highest part number (AWS: 10,000). */
export const partNumberMax = 10_000;
/** Largest object key in UTF-8 bytes (AWS: 1,024). */
export const keyLengthMaxBytes = 1024;
/** Total size of x-amz-meta-* names and values in UTF-8 bytes (AWS: 2 KiB). */
export const userMetadataMaxBytes = 2 * KiB;
/** Keys in one DeleteObjects request (AWS: 1,000). */
export const deleteObjectsKeysMax = 1000;
/** Default and largest max-keys / max-uploads / max-parts in listings (AWS: 1,000). */
export const listKeysMax = 1000;
/** How long a completed multipart upload's answer is kept, so a retried CompleteMultipartUpload
 *  (SDKs retry it after a timeout) gets it again, in ms. AWS keeps no documented window; SDK retries
 *  come within minutes, people re-running a tool within hours. */
export const completedUploadKeepMs = 24 * 3_600_000;
/** Completed uploads one node keeps at most (oldest dropped first): about 200 bytes each in LMDB
 *  (1.2 KiB with a 1,024-byte key). Between two sweeps the count may pass it by the completions made meanwhile. */
export const completedUploadsMax = 100_000;
/** How often the completed-upload sweep runs, in ms. */
export const completedUploadSweepIntervalMs = 60_000;
/** Completed uploads removed per metadata transaction by the sweep (keeps each commit short). */
export const completedUploadSweepBatchMax = 1_000;
/** Largest XML request body we parse (CompleteMultipartUpload with 10,000 parts fits). */
export const xmlBodyMaxBytes = 2 * MiB;
/**
 * Deepest element nesting in an XML request body; deeper is MalformedXML. S3's deepest request
 * schemas (lifecycle, inventory, analytics configurations) nest about 7 levels.
 */
export const xmlNestingDepthMax = 32;
/** Largest HTTP header section in bytes; larger gets 400 (Node's default is 16 KiB). */
export const headerSectionMaxBytes = 16 * KiB;
/** Allowed clock skew between client and server (AWS: 15 minutes). */
export const clockSkewMaxMs = 15 * 60 * 1000;
/** Longest presigned URL lifetime (AWS: 7 days = 604,800 s). */
export const presignExpiresMaxSeconds = 604_800;
/** Largest aws-chunked chunk we accept (bounds memory per request). */
export const awsChunkSizeMaxBytes = 16 * MiB;
/** Default stripe block size: each object is cut into blocks of this many bytes. */
export const blockSizeDefaultBytes = 1 * MiB;
/** Bounds for the configurable block size. */
export const blockSizeMinBytes = 64 * KiB;
export const blockSizeMaxBytes = 16 * MiB;
/** Milliseconds a request may stay idle (no bytes in either direction) before it is dropped. */
export const requestIdleTimeoutMs = 120_000;
/** Unread request body an error response waits to discard, so the client can read the error (bytes). */
export const errorBodyDrainMaxBytes = 64 * MiB;
/** How long an error response waits for the rest of the request body, in ms. */
export const errorBodyDrainTimeoutMs = 30_000;
/** Unread request body an error response for an unauthenticated request waits to discard (bytes):
 *  enough for a client's small body to go in before it reads the refusal, too little to let anyone
 *  anonymous keep a connection busy. */
export const unauthenticatedDrainMaxBytes = 1 * MiB;
/** How long an error response for an unauthenticated request waits for the rest of its body, in ms. */
export const unauthenticatedDrainTimeoutMs = 2_000;
/** How long an admitted request may wait for the first byte of its body (after 100 Continue when it
 *  asked for one) before it fails with 400 RequestTimeout and frees its slot, in ms (AWS closes idle
 *  request sockets after about 20 s with the same error). */
export const requestBodyStartTimeoutMs = 20_000;
/** How long a connection may take to send a whole request head, in ms; then it is closed. */
export const requestHeadersTimeoutMs = 20_000;
/** Open client connections at once (each holds a file descriptor); more are closed as they arrive. */
export const clientConnectionsMax = 8_192;
/** How long graceful shutdown waits for in-flight requests before closing them. */
export const shutdownGraceMs = 30_000;
/** Drives in one node's erasure set (k + m = drives). */
export const drivesMax = 32;
/** Default size up to which objects are stored inline in their metadata record (no shard files). */
export const inlineObjectMaxBytesDefault = 128 * KiB;
/** Largest configurable inline threshold (keeps LMDB values and request buffering small). */
export const inlineObjectLimitBytes = 1 * MiB;
/** Authenticated client requests served at once; more get 503 SlowDown. Requests that fail
 *  routing or authentication answer without taking one of these slots. */
export const concurrentRequestsMax = 256;
/** Shard files deleted at once by the garbage collector. */
export const gcConcurrencyMax = 8;

// ---- metadata store health (a full or failing metadata disk) ----

/** A metadata commit that failed with EIO counts as "full" (a short write: LMDB's sign of a full
 *  filesystem) while its filesystem has less than this many bytes free for unprivileged writers. */
export const metaStoreLowFreeBytes = 64 * MiB;
/** While the metadata store is full or failing, a probe commit runs this often (ms), so its
 *  health clears without client writes once space is freed. */
export const metaStoreProbeIntervalMs = 2_000;
/** The probe stores a value this large (then removes it): "ok" means an object stored inline in
 *  its record (up to inlineObjectMaxBytesDefault) fits again, not merely a few bytes. */
export const metaStoreProbeBytes = 128 * KiB;
/** A full or failing metadata store counts as healthy again after a commit succeeds at least this
 *  long (ms) after the last failed one: one log line per episode, not one per small write that fits. */
export const metaStoreRecoveryQuietMs = 3_000;
/** A metadata commit not finished after this long (ms) fails with MetadataStoreFailed, and new
 *  writes are refused at once until the stalled commit settles (LMDB after a fatal I/O error). */
export const metaWriteStallMs = 30_000;
/** First and longest pause (ms, doubling) of a background worker (gc, repair, scan, scrub,
 *  rebalance) whose metadata writes fail, before it tries again. */
export const metaBackoffMinMs = 1_000;
export const metaBackoffMaxMs = 30_000;

// ---- erasure codec ----

/** Most shards (data + parity) in one erasure set: GF(2^8) has 256 distinct Vandermonde rows. */
export const erasureShardsMax = 256;
/** Decode plans (inverted matrix + nibble tables) cached per codec, keyed by erasure pattern; LRU. */
export const decodePlanCacheEntriesMax = 256;
/** Largest linear memory the SIMD kernel may grow to (shard buffers, tables, scratch); wasm32 caps it at 4 GiB. */
export const kernelMemoryMaxBytes = 4 * GiB;
/** Linear memory the SIMD kernel starts with; it grows on demand up to kernelMemoryMaxBytes. */
export const kernelMemoryInitialBytes = 1024 * KiB;
/** Smallest step by which kernel memory grows, so a run of small allocations grows it rarely. */
export const kernelMemoryGrowMinBytes = 16 * 1024 * KiB;
/** Alignment of every kernel memory allocation: a cache line, so 64-byte SIMD blocks never straddle two. */
export const kernelAllocationAlignBytes = 64;

// ---- node-to-node transport ----

/** Largest first frame (method + msgpack header) of a call or reply; bodies stream separately. */
export const callHeaderMaxBytes = 4 * MiB;
/** Calls in flight to one peer at once; more wait in a queue. */
export const callsPerPeerMax = 64;
/** Calls waiting for a slot to one peer; more fail at once with PeerBusy. */
export const callQueuePerPeerMax = 1024;
/** Calls served at once for all peers together; more wait for the transport's flow control. */
export const inboundCallsMax = 256;
/** Consecutive connection failures or timeouts after which a peer counts as down. */
export const callFailuresToDown = 2;
/** First and largest wait between reconnection attempts to a peer, in ms (doubling). */
export const reconnectBackoffMinMs = 100;
export const reconnectBackoffMaxMs = 5_000;
/** TLS/QUIC handshake must finish within this many ms. */
export const handshakeTimeoutMs = 5_000;
/** A connection with no traffic (keep-alives included) for this long is dead, in ms. */
export const connectionIdleTimeoutMs = 10_000;
/** Keep-alive ping interval on idle connections, in ms. */
export const keepAliveIntervalMs = 2_000;
/** Longest method name of a call, in UTF-8 bytes. */
export const callMethodMaxBytes = 256;
/** An inbound call's first frame must arrive within this many ms of its stream's first bytes. */
export const callFrameTimeoutMs = 5_000;
/** Longest deadline a callee honours, in ms; a larger `t` in a request frame is clamped to it. */
export const callTimeoutMaxMs = 15 * 60_000;
/** How long close() waits for a listening endpoint to tell its peers and unbind, in ms. */
export const transportCloseGraceMs = 2_000;
/** QUIC receive window of one stream, bytes: what one call may have in flight and unread. 2 MiB moved
 *  one stream as fast as 16 MiB on loopback (273 vs 250 MB/s up, bench/transport.bench.ts --quic-limits). */
export const quicStreamWindowBytes = 2 * MiB;
/** QUIC receive window of one connection over all its streams, bytes: bounds unread data per connection
 *  (a node holds up to 2 x peers of these: inbound shard writes and outbound shard reads). */
export const quicConnectionWindowBytes = 8 * MiB;
/** SO_RCVBUF / SO_SNDBUF asked for each QUIC UDP socket, bytes (the OS may clamp it). */
export const quicSocketBufferBytes = 4 * MiB;
/** Largest read from a QUIC stream in one native call, bytes. The engine allocates this much per
 *  read whatever arrives; 1 MiB doubled a cluster node's peak RSS (make bench, 64 MiB PUT c16:
 *  586 -> 308 MiB at 256 KiB) for no speed (bench/transport.bench.ts --quic-limits). */
export const quicReadChunkBytes = 256 * KiB;
/** A QUIC connection on which a call timed out with no datagram at all received for this long
 *  (a live peer ACKs within a round trip) is closed and re-made, in ms: a peer that restarted
 *  never answers its old connection. */
export const quicSilentConnectionMs = 300;
/** Deadline of the liveness probe sent over the link to a peer that just connected to this node
 *  anew (it may have restarted, leaving our old connection to it dead), in ms. A live peer's QUIC
 *  stack ACKs within a round trip however busy its event loop is, and a timed-out probe drops the
 *  link only when no datagram at all came back (quicSilentConnectionMs), so this can be short. */
export const quicPeerProbeTimeoutMs = 400;
/** Streams a peer may have open at once on one QUIC connection (MAX_STREAMS); >= callsPerPeerMax. */
export const quicStreamsPerConnectionMax = 256;
/** HTTP/2 (TLS transport) receive window of one stream, bytes: what one call may have in flight and unread. */
export const http2StreamWindowBytes = 4 * MiB;
/** HTTP/2 (TLS transport) receive window of one connection over all its streams, bytes. */
export const http2ConnectionWindowBytes = 16 * MiB;
/** Largest HTTP/2 DATA frame a peer may send us, bytes (RFC 9113: 16 KiB .. 16 MiB - 1). Larger frames
 *  measured no faster over TLS, whose records are 16 KiB anyway; the windows above are what matter. */
export const http2FrameMaxBytes = 16 * KiB;
/** Memory node:http2 may use per session before it refuses new streams, in MiB (its unit). */
export const http2SessionMemoryMaxMiB = 64;
/** Largest body chunk frame the TCP transport sends, bytes: bigger body chunks go out as several frames
 *  (views, not copies). 1 MiB keeps a 256 KiB block with its bitrot hash in one frame. */
export const tcpBodyFrameMaxBytes = 1 * MiB;
/** Checksummed body bytes one TCP connection holds for a reader that has not taken them; past this the
 *  socket is paused (TCP flow control then stops the sender). */
export const tcpReadBufferBytes = 2 * MiB;
/** Largest frame of the TCP transport's handshake (hello, proof), bytes: a stranger gets no bigger buffer. */
export const tcpHandshakeFrameMaxBytes = 1 * KiB;
/** Frames at most this long are copied with their 9-byte header into one write; longer ones go out
 *  as header + payload in one writev, uncopied. */
export const tcpCoalesceMaxBytes = 16 * KiB;

// ---- cluster ----

/** Deadline of one metadata call to a peer, in ms. */
export const metaCallTimeoutMs = 3_000;
/** After a metadata read quorum answered, how long to wait for the other replicas, in ms. 0: answer
 *  at quorum (read and write quorums overlap; the other reads finish in the background). 30 ms cost
 *  4 KiB GETs about 20% (make bench, 6-nodes-tls, GET c1: 122 -> 149 ops/s at 0). */
export const replicaReadGraceMs = 0;
/** After a metadata write quorum answered, how long to wait for the other replicas, in ms. Not 0:
 *  a write answered at quorum gives a slow replica no back-pressure, and under a burst (20,000 PUTs
 *  in CI) its queue grew until its calls passed metaCallTimeoutMs and writes lost their quorum. */
export const replicaWriteGraceMs = 30;
/** While a peer counts as down, one background shard.ping per this many ms tries it (to see it come back). */
export const peerProbeIntervalMs = 1_000;
/** While a stripe's k shard reads are not all in after this many ms, one more shard read starts
 *  (parity, then decode), and again each such interval: a gone or stalled node costs a stripe this
 *  long instead of shardReadTimeoutMs. A healthy block read takes a few ms here. */
export const shardReadHedgeMs = 250;
/** Deadline of one shard read from a peer, in ms, plus shardReadTimeoutPerMiBMs per MiB it asks for (then the read decodes from parity). */
export const shardReadTimeoutMs = 2_000;
export const shardReadTimeoutPerMiBMs = 1_000;
/** Data bytes of the stripes one part read fetches with one read per shard (whole stripes, at least one). */
export const readWindowBytesMax = 4 * MiB;
/** Deadline of streaming one shard file to a peer, in ms (a stopped peer is found sooner by the connection's idle timeout). */
export const shardWriteTimeoutMs = 15 * 60_000;
/** Read handles of shard files one drive keeps open between reads (store/read-handle-cache.ts). */
export const readHandlesMax = 256;
/** A cached shard read handle unused for this long is closed, in ms. */
export const readHandleIdleMs = 10_000;
/** Deadline of verifying one whole shard file where it is stored (shard.verify), in ms. */
export const shardVerifyTimeoutMs = 15 * 60_000;
/** Bytes read at once while verifying a shard file's blocks (whole blocks; at least one block). */
export const shardVerifyReadMaxBytes = 4 * MiB;
/** Bytes queued for one outbound shard stream before its writer waits (back-pressure). */
export const shardStreamQueueMaxBytes = 4 * MiB;
/** First read size on a QUIC stream, bytes; it doubles up to quicReadChunkBytes while reads come back full. */
export const quicReadChunkMinBytes = 64 * KiB;

// ---- repair ----

/** Repair queue entries the reconstructor takes per pass. */
export const repairBatchMax = 64;
/** Shards one node rebuilds at once when no client is being served (or at high priority). */
export const repairConcurrencyMax = 4;
/** Repair counts clients as gone once no request has run for this many ms. */
export const repairQuietMs = 1_000;
/** While clients are served, repair rests this many times as long as each rebuild took. */
export const repairTranquility = 3;
/** How often a waiting rebuild slot looks again whether it may start, in ms. */
export const repairThrottlePollMs = 100;
/** How long `s3d admin heal --priority high` lifts the repair throttle at most, in ms. */
export const repairPriorityHighMaxMs = 6 * 3_600_000;
/** Read windows (readWindowBytesMax of data each) one shard rebuild reads ahead of the one it writes. */
export const repairWindowsAheadMax = 1;
/** Pause between reconstructor passes when nothing kicks it, in ms. */
export const repairIdleIntervalMs = 5_000;
/** A repair that failed (drive offline, too few shards) is tried again after this long, in ms. */
export const repairRetryDelayMs = 30_000;
/** A queued repair whose data no object references is kept this long (its multipart upload may
 *  still complete), then dropped, in ms. */
export const repairUnreferencedKeepMs = 7 * 24 * 3_600_000;
/** Default and largest config scrubIntervalHours: hours between a node's scrub cycles (re-read
 *  and verify every shard on its drives). */
export const scrubIntervalHoursDefault = 24;
export const scrubIntervalHoursMax = 8_760;
/** Pause after each scrubbed shard, in ms: scrub's pace, so it never crowds out requests. */
export const scrubShardPauseMs = 10;
/** Scrub saves its position (drive, shard id) in LMDB after this many shards, so a restart resumes it. */
export const scrubCheckpointShards = 256;
/** Default and largest config scanIntervalHours: hours between a node's scanner cycles (check
 *  that every shard of every object it is first home of exists with its full size). */
export const scanIntervalHoursDefault = 6;
export const scanIntervalHoursMax = 8_760;
/** Pause after each object the scanner checked, in ms (k + m shard stats per part). */
export const scanObjectPauseMs = 1;
/** Object records the scanner reads per LMDB read snapshot. */
export const scanPageObjects = 256;
/** Records one scan checks at once (each check stats every shard of the record, on every node). */
export const scanChecksInFlightMax = 8;
/** Records with unreachable shards a scan cycle keeps to check once more at its end. */
export const scanRecheckMax = 1024;
/** How long after its walk a scan keeps checking those records again, in ms (a restarted node's peers reconnect by then). */
export const scanRecheckDelayMs = 3_000;
/** The first of those rechecks comes this long after the walk, in ms; the delays double from there
 *  (250, 500, 1000, then the rest of scanRecheckDelayMs). A QUIC link to a restarted peer is re-made
 *  within about quicSilentConnectionMs + quicPeerProbeTimeoutMs. */
export const scanRecheckFirstDelayMs = 250;
/** Scoped heal requests that may wait behind a running scan; more collapse into one full cycle. */
export const scanWaitingMax = 64;

// ---- admin ----

/** Deadline of one `s3d admin` call to a node, in ms (status counts the node's shard files). */
export const adminCallTimeoutMs = 30_000;
/** How often `s3d admin heal --wait` polls the nodes' status, in ms (a poll counts no shard files). */
export const adminPollIntervalMs = 200;

/** How often a node asks its peers for their layout, in ms (a change reaches a node that missed it). */
export const layoutSyncIntervalMs = 5_000;

// ---- rebalance ----

/** Pause between rebalancer passes while a layout transition runs, in ms. */
export const rebalanceIdleIntervalMs = 5_000;
/** Pause after each object the rebalancer visited, in ms (its pace next to client requests). */
export const rebalanceObjectPauseMs = 1;
/** Interrupted moves (MoveIntent) a rebalancer pass settles before it walks the records. */
export const rebalanceIntentsPerPass = 10_000;

// ---- gateway workers (config `workers`) ----

/** Largest config `workers`: S3 gateway processes of one node (the default is one per core). */
export const gatewayWorkersMax = 64;
/** A gateway worker that exits unexpectedly is started again after this long, in ms (doubling per
 *  exit within gatewayWorkerStableMs, up to gatewayWorkerRestartDelayMaxMs). */
export const gatewayWorkerRestartDelayMs = 500;
export const gatewayWorkerRestartDelayMaxMs = 30_000;
/** A gateway worker that ran this long before exiting restarts after the shortest delay again, in ms. */
export const gatewayWorkerStableMs = 60_000;
/** How long a gateway worker may take from fork to listening, in ms. */
export const gatewayWorkerStartTimeoutMs = 60_000;
/** Each gateway worker reports its request count and event loop use to the node this often, in ms;
 *  the node writes them to DATA/gateway-workers.json. */
export const gatewayWorkerStatsIntervalMs = 1000;
/** Connections the node's process holds while no gateway worker is ready (all restarting); more are closed. */
export const gatewayPendingConnectionsMax = 1_024;
/** How long gc waits for the node's other processes to say which data they have pinned, in ms;
 *  a process that does not answer in time counts as pinning all it was asked about. */
export const gatewayPinQueryTimeoutMs = 2_000;
/** A gateway worker tells the node it is serving clients (so repair yields) at most this often, in ms. */
export const gatewayActivityReportMs = 250;
/** A stale data dir lock's gateway workers still alive are waited for this long, then SIGKILLed, in ms. */
export const staleWorkerExitWaitMs = 5_000;
