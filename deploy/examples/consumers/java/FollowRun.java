// Follow one pipeline run on sr.events with Kafka's Java client and Apache
// Avro, the writer's schema fetched from the gateway's schema registry read
// API (GET /schemas/ids/{id}) by the id in each record's Confluent framing
// (a 0 byte, the id as 4 bytes big-endian, the Avro body).
//
//   java -cp 'libs/*:.' FollowRun BOOTSTRAP REGISTRY_URL TOPIC RUN_ID [TIMEOUT_S]
//
// Delivery is at least once: a record can come twice. A run's events carry
// seq 1, 2, 3, ... in order (they share the run's partition): drop what was
// seen (seq <= last), report a gap when seq jumps. Exits 0 once the run's
// pipeline_run event is final, 1 on timeout.
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class FollowRun {
    private static final Set<String> FINAL =
            Set.of("success", "failure", "cancelled", "timeout", "invalid");
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final Map<Integer, Schema> SCHEMAS = new HashMap<>();

    private static Schema schema(String registry, int id) throws Exception {
        Schema s = SCHEMAS.get(id);
        if (s == null) {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(
                    URI.create(registry + "/schemas/ids/" + id)).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200)
                throw new IllegalStateException("schema " + id + ": HTTP "
                        + r.statusCode() + " " + r.body());
            String text = new ObjectMapper().readTree(r.body())
                    .get("schema").asText();
            s = new Schema.Parser().parse(text);
            SCHEMAS.put(id, s);
        }
        return s;
    }

    public static void main(String[] args) throws Exception {
        String boot = args[0], registry = args[1], topic = args[2];
        String run = args[3];
        long timeoutMs = (long) (1000 * (args.length > 4
                ? Double.parseDouble(args[4]) : 60));
        Properties p = new Properties();
        p.put("bootstrap.servers", boot);
        p.put("group.id", "follow-run-" + UUID.randomUUID()); // private
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        long last = 0, deadline = System.currentTimeMillis() + timeoutMs;
        String fin = null;
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            c.subscribe(List.of(topic));
            poll:
            while (System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> rec
                        : c.poll(Duration.ofMillis(500))) {
                    ByteBuffer b = ByteBuffer.wrap(rec.value());
                    if (b.get() != 0)
                        throw new IllegalStateException("offset "
                                + rec.offset() + ": not Confluent framing");
                    Schema s = schema(registry, b.getInt());
                    GenericRecord ev = new GenericDatumReader<GenericRecord>(s)
                            .read(null, DecoderFactory.get().binaryDecoder(
                                    rec.value(), 5, rec.value().length - 5,
                                    null));
                    if (!run.equals(ev.get("pipeline_run_id").toString()))
                        continue;
                    long seq = (Long) ev.get("seq");
                    if (seq <= last) {
                        System.out.println("duplicate seq=" + seq + " dropped");
                        continue;
                    }
                    if (seq != last + 1)
                        System.out.println("gap: expected seq=" + (last + 1)
                                + ", got seq=" + seq);
                    last = seq;
                    Object from = ev.get("from_status");
                    String to = ev.get("to_status").toString();
                    System.out.println("seq=" + seq + " "
                            + ev.get("entity_type") + " " + ev.get("entity_id")
                            + " " + (from == null ? "-" : from) + " -> " + to);
                    if ("pipeline_run".equals(ev.get("entity_type").toString())
                            && FINAL.contains(to)) {
                        fin = to;
                        break poll;
                    }
                }
            }
        }
        if (fin != null) {
            System.out.println("final: pipeline run " + run + " " + fin);
            System.exit(0);
        }
        System.out.println("timeout: run " + run + " not final after "
                + timeoutMs / 1000 + " s (last seq=" + last + ")");
        System.exit(1);
    }
}
