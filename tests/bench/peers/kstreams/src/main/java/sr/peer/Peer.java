package sr.peer;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.apache.kafka.streams.state.Stores;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Options;

/**
 * The Kafka Streams peer of the side-by-side benchmark (issue 14): the hot
 * path of sr-status — a create-run command materialises the run and queues
 * stage 1; a target result moves its target run, the stage run rolls up,
 * the pipeline run rolls up and, under auto_promote, the next stage run is
 * queued and its targets dispatched — with the status rules of
 * /work/shared/design/domain.md for that path (common/domain/sr_fsm*.c).
 * State: one value per pipeline run in a RocksDB key-value store with its
 * changelog. Output: one Avro event (schemas/event.avsc, Confluent wire
 * format, id 3) per transition on PREFIXevents, one dispatch request (id 5)
 * per target on PREFIXdispatch. See README.md.
 *
 * Usage: Peer --bootstrap HOST:PORT --prefix P --schemas DIR
 *             [--guarantee at_least_once|exactly_once_v2] [--threads N]
 *             [--app-id ID] [--state-dir DIR]
 */
public final class Peer {
    static final String STORE = "runs";
    /* Commands: version 1 (id 1, command.v1.avsc), what sr writes for every
     * command the peer's path knows, and version 2 (id 7, command.avsc). */
    static final int ID_COMMAND_V1 = 1, ID_COMMAND = 7, ID_RESULT = 2,
            ID_EVENT = 3, ID_DISPATCH = 5;
    static final AtomicLong SKIPPED = new AtomicLong(), RESULTS = new AtomicLong(),
            EVENTS = new AtomicLong(), STALE = new AtomicLong();

    /** Decoders and encoders of our .avsc files, one set per stream thread. */
    static final class Codec {
        final Schema command, commandV1, result, event, dispatch, entityType,
                dispatchKind;
        final GenericDatumReader<GenericRecord> cmdReader, cmdReaderV1, resReader;
        final GenericDatumWriter<GenericRecord> evWriter, dispWriter;
        BinaryDecoder dec;
        BinaryEncoder enc;
        final ByteArrayOutputStream buf = new ByteArrayOutputStream(512);

        Codec(File dir) throws IOException {
            command = new Schema.Parser().parse(new File(dir, "command.avsc"));
            commandV1 = new Schema.Parser().parse(new File(dir, "command.v1.avsc"));
            result = new Schema.Parser().parse(new File(dir, "result.avsc"));
            event = new Schema.Parser().parse(new File(dir, "event.avsc"));
            dispatch = new Schema.Parser().parse(new File(dir, "dispatch.avsc"));
            entityType = event.getField("entity_type").schema();
            dispatchKind = dispatch.getField("kind").schema();
            cmdReader = new GenericDatumReader<>(command);
            cmdReaderV1 = new GenericDatumReader<>(commandV1);
            resReader = new GenericDatumReader<>(result);
            evWriter = new GenericDatumWriter<>(event);
            dispWriter = new GenericDatumWriter<>(dispatch);
        }

        /** The record after the 5-byte header, or null (and counted) when the
         *  header is not magic 0 + the expected schema id. */
        GenericRecord decode(byte[] v, int id, GenericDatumReader<GenericRecord> r) {
            if (v == null || v.length < 5 || v[0] != 0 || ByteBuffer.wrap(v, 1, 4).getInt() != id)
                return null;
            try {
                dec = DecoderFactory.get().binaryDecoder(v, 5, v.length - 5, dec);
                return r.read(null, dec);
            } catch (IOException | RuntimeException e) {
                return null;
            }
        }

        /** A command of either version, each read with its own schema (the
         *  fields the peer uses are in both), or null. */
        GenericRecord decodeCommand(byte[] v) {
            if (v == null || v.length < 5)
                return null;
            int id = ByteBuffer.wrap(v, 1, 4).getInt();
            return id == ID_COMMAND_V1 ? decode(v, id, cmdReaderV1) :
                                         decode(v, ID_COMMAND, cmdReader);
        }

        byte[] encode(GenericRecord rec, int id, GenericDatumWriter<GenericRecord> w) {
            buf.reset();
            buf.write(0);
            buf.write(id >>> 24); buf.write(id >>> 16); buf.write(id >>> 8); buf.write(id);
            try {
                enc = EncoderFactory.get().directBinaryEncoder(buf, enc);
                w.write(rec, enc);
                enc.flush();
            } catch (IOException e) {
                throw new IllegalStateException("encode: " + e.getMessage(), e);
            }
            return buf.toByteArray();
        }
    }

    static UUID uuid5(String ns, String name) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-1");
            UUID n = UUID.fromString(ns);
            md.update(ByteBuffer.allocate(16).putLong(n.getMostSignificantBits())
                    .putLong(n.getLeastSignificantBits()).array());
            md.update(name.getBytes(StandardCharsets.UTF_8));
            byte[] h = md.digest();
            h[6] = (byte) ((h[6] & 0x0f) | 0x50);
            h[8] = (byte) ((h[8] & 0x3f) | 0x80);
            ByteBuffer b = ByteBuffer.wrap(h, 0, 16);
            return new UUID(b.getLong(), b.getLong());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static boolean terminal(String s) {
        switch (s) {
            case "success": case "failure": case "cancelled": case "timeout": case "invalid":
                return true;
            default:
                return false;
        }
    }

    static int targetRank(String s) {
        switch (s) {
            case "pending": case "queued": return 0;
            case "processing": return 1;
            case "dispatched": return 2;
            case "running": return 3;
            default: return 4; // terminal
        }
    }

    /** A command status mapped to the target run's new status; null: poison. */
    static String mapStatus(String cs) {
        switch (cs.toUpperCase(Locale.ROOT)) {
            case "QUEUED": return "dispatched";
            case "INITIATED": case "ACKNOWLEDGED": case "INPROGRESS": return "running";
            case "SUCCESS": return "success";
            case "FAILED": case "FAILURE": case "TIMEOUT": case "CANCELLED": return "failure";
            case "ERROR": return "invalid";
            default: return null;
        }
    }

    /** The processor of both input topics: they are keyed by pipeline run id
     *  and co-partitioned, so one run's records meet in one task. */
    static final class RunProcessor implements Processor<String, byte[], String, byte[]> {
        final File schemas;
        final String commandsTopic;
        ProcessorContext<String, byte[]> ctx;
        KeyValueStore<String, byte[]> store;
        Codec codec;
        // per-record scratch
        RunState run;
        String causation;
        long now;

        RunProcessor(File schemas, String commandsTopic) {
            this.schemas = schemas;
            this.commandsTopic = commandsTopic;
        }

        @Override
        public void init(ProcessorContext<String, byte[]> context) {
            ctx = context;
            store = context.getStateStore(STORE);
            try {
                codec = new Codec(schemas);
            } catch (IOException e) {
                throw new IllegalStateException("schemas in " + schemas + ": " + e.getMessage(), e);
            }
        }

        @Override
        public void process(Record<String, byte[]> rec) {
            String topic = ctx.recordMetadata().map(m -> m.topic()).orElse("");
            now = rec.timestamp();
            if (topic.equals(commandsTopic))
                onCommand(rec);
            else
                onResult(rec);
        }

        void skip(String why) {
            if (SKIPPED.getAndIncrement() < 10)
                System.err.println("kstreams-peer: skipped: " + why);
        }

        void onCommand(Record<String, byte[]> rec) {
            GenericRecord c = codec.decodeCommand(rec.value());
            if (c == null) { skip("undecodable command"); return; }
            Object p = c.get("payload");
            if (!(p instanceof GenericRecord) ||
                !((GenericRecord) p).getSchema().getName().equals("CreateRun")) {
                skip("command kind not on the peer's path: " +
                     (p instanceof GenericRecord ? ((GenericRecord) p).getSchema().getName() : "?"));
                return;
            }
            String runId = c.get("pipeline_run_id").toString();
            if (store.get(runId) != null) { skip("duplicate create of run " + runId); return; }
            GenericRecord spec = (GenericRecord) ((GenericRecord) p).get("spec");
            @SuppressWarnings("unchecked")
            List<GenericRecord> stages = (List<GenericRecord>) spec.get("stages");
            for (GenericRecord s : stages) {
                @SuppressWarnings("unchecked")
                List<GenericRecord> ops = (List<GenericRecord>) s.get("operations");
                if (ops.size() > 1) { skip("run " + runId + ": more than one operation per stage"); return; }
            }
            run = new RunState();
            run.runId = runId;
            run.pipelineId = spec.get("pipeline_id").toString();
            run.enterpriseId = c.get("enterprise_id").toString();
            run.autoPromote = (Boolean) spec.get("auto_promote");
            causation = c.get("command_id").toString();
            run.status = "pending";
            emit("pipeline_run", runId, null, null, null, "pending", "created", ++run.version);
            movePr("queued", "created");
            movePr("processing", "materialising");
            int i = 0;
            for (GenericRecord s : stages) {
                RunState.Stage st = new RunState.Stage();
                st.id = uuid5(runId, "stage:" + i++).toString();
                st.name = s.get("name").toString();
                @SuppressWarnings("unchecked")
                List<GenericRecord> ops = (List<GenericRecord>) s.get("operations");
                st.operationType = ops.isEmpty() ? "" : ops.get(0).get("operation_type").toString();
                st.argsJson = ops.isEmpty() ? "{}" : ops.get(0).get("args_json").toString();
                @SuppressWarnings("unchecked")
                List<GenericRecord> ts = (List<GenericRecord>) s.get("targets");
                for (GenericRecord t : ts)
                    st.specTargets.add(new String[] {t.get("device_id").toString(),
                                                     t.get("device_name").toString()});
                st.status = "pending";
                run.stages.add(st);
                emit("stage_run", st.id, st.id, null, null, "pending", "created", ++st.version);
            }
            if (run.stages.isEmpty()) {
                movePr("invalid", "no_stages");
            } else {
                queueStage(0, "run_started");
                movePr("running", "stage_queued");
                processStage(0);
                rollupPr();
            }
            store.put(runId, run.toBytes());
        }

        void onResult(Record<String, byte[]> rec) {
            GenericRecord r = codec.decode(rec.value(), ID_RESULT, codec.resReader);
            if (r == null) { skip("undecodable result"); return; }
            RESULTS.incrementAndGet();
            String runId = r.get("pipeline_run_id").toString();
            byte[] v = store.get(runId);
            if (v == null) { skip("result of unknown run " + runId); return; }
            run = RunState.fromBytes(v);
            causation = r.get("result_id").toString();
            String to = mapStatus(r.get("command_status").toString());
            if (to == null) { skip("unknown command status " + r.get("command_status")); return; }
            String sid = r.get("stage_run_id").toString(), tid = r.get("target_run_id").toString();
            int si = -1;
            RunState.Target t = null;
            for (int i = 0; i < run.stages.size() && t == null; i++) {
                RunState.Stage st = run.stages.get(i);
                if (!st.id.equals(sid)) continue;
                for (RunState.Target x : st.targets)
                    if (x.id.equals(tid)) { t = x; si = i; break; }
            }
            if (t == null) { skip("result of unknown target run " + tid); return; }
            boolean moves = !terminal(t.status) &&
                    (to.equals("invalid") ? (t.status.equals("processing") || t.status.equals("dispatched"))
                                          : targetRank(to) > targetRank(t.status));
            if (!moves) { STALE.incrementAndGet(); return; }
            String reason = r.get("command_status").toString().toLowerCase(Locale.ROOT);
            RunState.Stage st = run.stages.get(si);
            if (to.equals("success") || to.equals("failure"))
                moveTarget(st, t, "complete", reason);
            moveTarget(st, t, to, reason);
            if (terminal(to)) {
                st.nTerminal++;
                if (to.equals("success")) st.nSuccess++;
                rollupStage(si);
            }
            store.put(runId, run.toBytes());
        }

        void emit(String type, String id, String stageId, String deviceId,
                  String from, String to, String reason, long version) {
            GenericRecord e = new GenericData.Record(codec.event);
            long seq = ++run.seq;
            e.put("event_id", uuid5(run.runId, Long.toString(seq)).toString());
            e.put("pipeline_run_id", run.runId);
            e.put("seq", seq);
            e.put("entity_type", new GenericData.EnumSymbol(codec.entityType, type));
            e.put("entity_id", id);
            e.put("pipeline_id", run.pipelineId);
            e.put("stage_run_id", stageId);
            e.put("stage_run_operation_id", null);
            e.put("device_id", deviceId);
            e.put("from_status", from);
            e.put("to_status", to);
            e.put("reason", reason);
            e.put("occurred_at", now);
            e.put("causation_id", causation);
            e.put("enterprise_id", run.enterpriseId);
            e.put("version", version);
            EVENTS.incrementAndGet();
            ctx.forward(new Record<>(run.runId, codec.encode(e, ID_EVENT, codec.evWriter), now), "events");
        }

        void movePr(String to, String reason) {
            String from = run.status;
            run.status = to;
            emit("pipeline_run", run.runId, null, null, from, to, reason, ++run.version);
        }

        void moveStage(RunState.Stage st, String to, String reason) {
            String from = st.status;
            st.status = to;
            emit("stage_run", st.id, st.id, null, from, to, reason, ++st.version);
        }

        void moveTarget(RunState.Stage st, RunState.Target t, String to, String reason) {
            String from = t.status;
            t.status = to;
            emit("target_run", t.id, st.id, t.deviceId, from, to, reason, ++t.version);
        }

        void queueStage(int si, String reason) {
            moveStage(run.stages.get(si), "queued", reason);
        }

        /** queued -> processing: create and dispatch the target runs. */
        void processStage(int si) {
            RunState.Stage st = run.stages.get(si);
            moveStage(st, "processing", "processing");
            if (st.specTargets.isEmpty()) { moveStage(st, "invalid", "no_targets"); return; }
            if (st.operationType.isEmpty()) { moveStage(st, "invalid", "no_operations"); return; }
            int j = 0;
            for (String[] spec : st.specTargets) {
                RunState.Target t = new RunState.Target();
                t.id = uuid5(st.id, "target:" + j++).toString();
                t.commandId = uuid5(t.id, "command").toString();
                t.deviceId = spec[0];
                t.deviceName = spec[1];
                t.status = "pending";
                st.targets.add(t);
                emit("target_run", t.id, st.id, t.deviceId, null, "pending", "created", ++t.version);
                moveTarget(st, t, "queued", "created");
                moveTarget(st, t, "processing", "dispatching");
                GenericRecord d = new GenericData.Record(codec.dispatch);
                d.put("kind", new GenericData.EnumSymbol(codec.dispatchKind, "COMMAND"));
                d.put("command_id", t.commandId);
                d.put("pipeline_run_id", run.runId);
                d.put("stage_run_id", st.id);
                d.put("target_run_id", t.id);
                d.put("device_id", t.deviceId);
                d.put("device_name", t.deviceName);
                d.put("operation_type", st.operationType);
                d.put("args_json", st.argsJson);
                d.put("enterprise_id", run.enterpriseId);
                d.put("issued_at", now);
                ctx.forward(new Record<>(t.deviceId, codec.encode(d, ID_DISPATCH, codec.dispWriter), now),
                            "dispatch");
            }
            st.specTargets.clear();
            moveStage(st, "running", "dispatched");
        }

        /** The stage-run table's completion rows, after a target run ended. */
        void rollupStage(int si) {
            RunState.Stage st = run.stages.get(si);
            if (!st.status.equals("running") || st.nTerminal < st.targets.size())
                return;
            boolean ok = st.nSuccess == st.targets.size();
            String reason = ok ? "all_targets_succeeded" : "target_failed";
            moveStage(st, "complete", reason);
            moveStage(st, ok ? "success" : "failure", reason);
            rollupPr();
        }

        static boolean active(String s) {
            return s.equals("queued") || s.equals("processing") || s.equals("running");
        }

        /** The pipeline-run table's roll-up rows, after a stage run ended. */
        void rollupPr() {
            for (;;) {
                if (!run.status.equals("running") && !run.status.equals("waiting"))
                    return;
                boolean failed = false, allSuccess = true;
                int next = -1;
                for (int i = 0; i < run.stages.size(); i++) {
                    String s = run.stages.get(i).status;
                    if (active(s)) return;
                    if (!s.equals("success")) allSuccess = false;
                    if (terminal(s) && !s.equals("success")) failed = true;
                    if (s.equals("pending") && next < 0) next = i;
                }
                if (failed) {
                    for (RunState.Stage st : run.stages)
                        if (st.status.equals("pending"))
                            moveStage(st, "cancelled", "previous_stage_failed");
                    movePr("complete", "stage_failed");
                    movePr("failure", "stage_failed");
                    return;
                }
                if (allSuccess) {
                    movePr("complete", "all_stages_succeeded");
                    movePr("success", "all_stages_succeeded");
                    return;
                }
                if (!run.autoPromote) {
                    if (run.status.equals("running"))
                        movePr("waiting", "awaiting_promotion");
                    return;
                }
                queueStage(next, "auto_promoted");
                processStage(next);
            }
        }
    }

    /** RocksDB as stated in README.md: a small block cache and write buffers
     *  for a 2-core box with a few thousand live runs per task. */
    public static final class RocksConfig implements RocksDBConfigSetter {
        @Override
        public void setConfig(String storeName, Options options, Map<String, Object> configs) {
            BlockBasedTableConfig t = (BlockBasedTableConfig) options.tableFormatConfig();
            t.setBlockCacheSize(16L << 20);
            t.setBlockSize(16L << 10);
            t.setCacheIndexAndFilterBlocks(true);
            options.setTableFormatConfig(t);
            options.setWriteBufferSize(8L << 20);
            options.setMaxWriteBufferNumber(2);
            options.setIncreaseParallelism(1);
        }

        @Override
        public void close(String storeName, Options options) {
        }
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            if (!argv[i].startsWith("--")) {
                System.err.println("kstreams-peer: unexpected argument " + argv[i]);
                System.exit(2);
            }
            a.put(argv[i].substring(2), argv[i + 1]);
        }
        if (!a.containsKey("bootstrap") || !a.containsKey("schemas")) {
            System.err.println("usage: Peer --bootstrap HOST:PORT --schemas DIR [--prefix sr.] "
                    + "[--guarantee at_least_once|exactly_once_v2] [--threads 2] [--app-id ID] "
                    + "[--state-dir DIR]");
            System.exit(2);
        }
        String prefix = a.getOrDefault("prefix", "sr.");
        String guarantee = a.getOrDefault("guarantee", "at_least_once");
        if (!guarantee.equals("at_least_once") && !guarantee.equals("exactly_once_v2")) {
            System.err.println("kstreams-peer: --guarantee must be at_least_once or exactly_once_v2, not " + guarantee);
            System.exit(2);
        }
        File schemas = new File(a.get("schemas"));
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, a.getOrDefault("app-id", prefix + "kstreams-peer"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, a.get("bootstrap"));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(a.getOrDefault("threads", "2")));
        p.put(StreamsConfig.STATE_DIR_CONFIG, a.getOrDefault("state-dir", "/tmp/kstreams-peer"));
        p.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, RocksConfig.class);
        // the record cache in front of the store: repeated puts of a run
        // between commits reach RocksDB and the changelog once
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 16L << 20);
        // at_least_once commits every 1 s (default 30 s), exactly_once_v2
        // every 100 ms (its default): the commit is when the transaction
        // ends, so it bounds the latency a read_committed consumer sees
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG,
              Long.parseLong(a.getOrDefault("commit-ms", guarantee.equals("at_least_once") ? "1000" : "100")));
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_POLL_RECORDS_CONFIG), 2000);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG), 10);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 5);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.BATCH_SIZE_CONFIG), 128 * 1024);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "lz4");

        String commands = prefix + "commands", results = prefix + "results";
        Topology topo = new Topology();
        topo.addSource("inputs", Serdes.String().deserializer(), Serdes.ByteArray().deserializer(),
                       commands, results);
        topo.addProcessor("apply", () -> new RunProcessor(schemas, commands), "inputs");
        topo.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE),
                                                       Serdes.String(), Serdes.ByteArray())
                                 .withCachingEnabled().withLoggingEnabled(Map.of()), "apply");
        topo.addSink("events", prefix + "events", Serdes.String().serializer(),
                     Serdes.ByteArray().serializer(), "apply");
        topo.addSink("dispatch", prefix + "dispatch", Serdes.String().serializer(),
                     Serdes.ByteArray().serializer(), "apply");

        KafkaStreams ks = new KafkaStreams(topo, p);
        CountDownLatch done = new CountDownLatch(1);
        ks.setStateListener((n, o) -> {
            if (n == KafkaStreams.State.RUNNING)
                System.out.println("ready");
            if (n == KafkaStreams.State.ERROR || n == KafkaStreams.State.NOT_RUNNING)
                done.countDown();
        });
        ks.setUncaughtExceptionHandler(e -> {
            System.err.println("kstreams-peer: stream thread failed: " + e);
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler
                    .StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            ks.close();
            System.out.println("results=" + RESULTS.get() + " events=" + EVENTS.get()
                    + " stale=" + STALE.get() + " skipped=" + SKIPPED.get());
            System.out.flush();
        }));
        ks.start();
        done.await();
        System.exit(ks.state() == KafkaStreams.State.ERROR ? 1 : 0);
    }
}
