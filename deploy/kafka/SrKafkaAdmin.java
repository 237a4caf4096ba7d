// The admin helper of scripts/kafka.sh: waits until a broker answers and
// creates the sr topic set (compiled by `scripts/kafka.sh fetch`).
//
//   SrKafkaAdmin wait BOOTSTRAP TIMEOUT_MS
//   SrKafkaAdmin topics BOOTSTRAP PREFIX PARTITIONS [REPLICATION_FACTOR]
//   SrKafkaAdmin leader BOOTSTRAP TOPIC PARTITION   prints the leader's node id
//   SrKafkaAdmin controller BOOTSTRAP               prints the active controller's id
//   SrKafkaAdmin healthy BOOTSTRAP NODES TIMEOUT_MS waits until NODES brokers are
//                     registered and every partition has a leader and a full ISR
//
// Exit status 0 on success, 1 with a message on stderr otherwise.
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.errors.TopicExistsException;

public final class SrKafkaAdmin {
        private static final String[] SUFFIXES = {
                "commands", "results", "events", "dispatch", "changelog", "replies", "dlq",
                "idempotency", "definition-events"
        };

        private static Admin admin(String bootstrap) {
                Properties p = new Properties();
                p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
                p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
                p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
                p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
                return Admin.create(p);
        }

        /* What a poll loop asks the cluster: null when ready, else why not. */
        private interface Probe {
                String check(Admin a) throws Exception;
        }

        /* Ask @p probe every 300 ms until it answers null or @p timeoutMs
         * passed; the last reason goes to stderr. */
        private static int poll(String bootstrap, long timeoutMs, String what, Probe probe)
                        throws InterruptedException {
                long deadline = System.currentTimeMillis() + timeoutMs;
                String last = "no answer";
                try (Admin a = admin(bootstrap)) {
                        while (System.currentTimeMillis() < deadline) {
                                try {
                                        last = probe.check(a);
                                        if (last == null)
                                                return 0;
                                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                                        last = String.valueOf(e.getCause() != null ? e.getCause() : e);
                                } catch (Exception e) {
                                        last = String.valueOf(e);
                                }
                                Thread.sleep(300);
                        }
                }
                System.err.println("kafka at " + bootstrap + " " + what + " in " + timeoutMs + " ms: " + last);
                return 1;
        }

        private static int waitReady(String bootstrap, long timeoutMs) throws InterruptedException {
                return poll(bootstrap, timeoutMs, "did not answer", a -> {
                        int n = a.describeCluster().nodes().get(5, TimeUnit.SECONDS).size();
                        /* The broker answers metadata before it is
                         * fenced in; a listing proves it serves. */
                        a.listTopics().names().get(5, TimeUnit.SECONDS);
                        return n > 0 ? null : "no broker registered";
                });
        }

        /* The changelog is compacted; min.compaction.lag.ms keeps a cut
         * batch from compacting away the value it shadows before the next
         * owner rewrites it (docs/guarantee.md). CHANGELOG_TOPIC_CONFIGS
         * ("k=v,k=v") replaces these, e.g. to make compaction run in tests. */
        private static Map<String, String> changelogConfigs() {
                return configsOr("CHANGELOG_TOPIC_CONFIGS", "compact", "min.compaction.lag.ms");
        }

        /* The gateways' Idempotency-Key claims: compacted (one record per
         * key and fingerprint) and deleted after the keys' ttl,
         * gateway.idempotency.ttl.s (24 h; docs/api-decisions.md).
         * IDEMPOTENCY_TOPIC_CONFIGS ("k=v,k=v") replaces these. */
        private static Map<String, String> idempotencyConfigs() {
                return configsOr("IDEMPOTENCY_TOPIC_CONFIGS", "compact,delete", "retention.ms");
        }

        /* The configs the variable @p var gives ("k=v,k=v"), else
         * cleanup.policy @p policy and @p msKey 86400000 (24 h). */
        private static Map<String, String> configsOr(String var, String policy, String msKey) {
                String env = System.getenv(var);
                if (env != null && !env.isEmpty())
                        return configsOf(var, env);
                Map<String, String> m = new java.util.HashMap<>();
                m.put("cleanup.policy", policy);
                m.put(msKey, "86400000");
                return m;
        }

        /* INPUT_TOPIC_CONFIGS ("k=v,k=v"): configs of the input topics
         * (commands, results), e.g. a retention.ms within the workers'
         * retention.inputs (docs/guarantee.md, "Retention"); none by
         * default (the broker's). */
        private static Map<String, String> inputConfigs() {
                String env = System.getenv("INPUT_TOPIC_CONFIGS");
                if (env == null || env.isEmpty())
                        return null;
                return configsOf("INPUT_TOPIC_CONFIGS", env);
        }

        private static Map<String, String> configsOf(String var, String env) {
                Map<String, String> m = new java.util.HashMap<>();
                for (String kv : env.split(",")) {
                        int eq = kv.indexOf('=');
                        if (eq <= 0)
                                throw new IllegalArgumentException(var + ": \"" + kv + "\" is not k=v");
                        m.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
                }
                return m;
        }

        /* The leader of one partition, as the cluster's metadata has it. */
        private static int leader(String bootstrap, String topic, int part) throws Exception {
                try (Admin a = admin(bootstrap)) {
                        TopicDescription d = a.describeTopics(List.of(topic)).allTopicNames()
                                .get(30, TimeUnit.SECONDS).get(topic);
                        org.apache.kafka.common.Node l = d.partitions().get(part).leader();
                        if (l == null || l.isEmpty()) {
                                System.err.println(topic + "-" + part + " has no leader");
                                return 1;
                        }
                        System.out.println(l.id());
                        return 0;
                }
        }

        /* The KRaft quorum's leader: the active controller (describeCluster's
         * controller() is any broker when asked through a broker). */
        private static int controller(String bootstrap) throws Exception {
                try (Admin a = admin(bootstrap)) {
                        System.out.println(a.describeMetadataQuorum().quorumInfo()
                                           .get(30, TimeUnit.SECONDS).leaderId());
                        return 0;
                }
        }

        /* Every broker back and every replica in sync: the state a rolling
         * restart waits for before it takes the next broker down. */
        private static int healthy(String bootstrap, int nodes, long timeoutMs) throws InterruptedException {
                return poll(bootstrap, timeoutMs, "not healthy", a -> {
                        int n = a.describeCluster().nodes().get(5, TimeUnit.SECONDS).size();
                        if (n < nodes)
                                return n + " of " + nodes + " brokers registered";
                        Collection<String> names = a.listTopics(
                                new org.apache.kafka.clients.admin.ListTopicsOptions().listInternal(true))
                                .names().get(5, TimeUnit.SECONDS);
                        Map<String, TopicDescription> d =
                                a.describeTopics(names).allTopicNames().get(10, TimeUnit.SECONDS);
                        for (TopicDescription td : d.values())
                                for (org.apache.kafka.common.TopicPartitionInfo p : td.partitions())
                                        if (p.leader() == null || p.leader().isEmpty()
                                            || p.isr().size() < p.replicas().size())
                                                return td.name() + "-" + p.partition() + " isr "
                                                        + p.isr().size() + "/" + p.replicas().size();
                        return null;
                });
        }

        private static int topics(String bootstrap, String prefix, int parts, short rf) throws InterruptedException {
                List<NewTopic> want = new ArrayList<>();
                for (String s : SUFFIXES) {
                        NewTopic t = new NewTopic(prefix + s, parts, rf);
                        if (s.equals("changelog"))
                                t.configs(changelogConfigs());
                        if (s.equals("idempotency"))
                                t.configs(idempotencyConfigs());
                        if ((s.equals("commands") || s.equals("results")) && inputConfigs() != null)
                                t.configs(inputConfigs());
                        want.add(t);
                }
                int rc = 0;
                try (Admin a = admin(bootstrap)) {
                        CreateTopicsResult r = a.createTopics(want);
                        for (Map.Entry<String, ?> e : r.values().entrySet()) {
                                try {
                                        r.values().get(e.getKey()).get(30, TimeUnit.SECONDS);
                                } catch (ExecutionException ex) {
                                        if (!(ex.getCause() instanceof TopicExistsException)) {
                                                System.err.println("create " + e.getKey() + ": " + ex.getCause());
                                                rc = 1;
                                        }
                                } catch (java.util.concurrent.TimeoutException ex) {
                                        System.err.println("create " + e.getKey() + ": timed out");
                                        rc = 1;
                                }
                        }
                        if (rc != 0)
                                return rc;
                        /* Existing topics must have the partition count asked
                         * for: commands, results and changelog must agree. A
                         * broker that has not yet seen the new topics in its
                         * metadata answers UnknownTopicOrPartition (a
                         * retriable error; on a cluster the describe can reach
                         * another node than the create): retried for 30 s. */
                        Collection<String> names = new ArrayList<>();
                        for (NewTopic t : want)
                                names.add(t.name());
                        long deadline = System.currentTimeMillis() + 30000;
                        for (;;) {
                                try {
                                        Map<String, TopicDescription> d =
                                                a.describeTopics(names).allTopicNames().get(30, TimeUnit.SECONDS);
                                        for (TopicDescription td : d.values()) {
                                                if (td.partitions().size() != parts) {
                                                        System.err.println(td.name() + " has " + td.partitions().size()
                                                                           + " partitions, not " + parts);
                                                        rc = 1;
                                                }
                                        }
                                        break;
                                } catch (ExecutionException ex) {
                                        if (!(ex.getCause() instanceof org.apache.kafka.common.errors.RetriableException)
                                            || System.currentTimeMillis() >= deadline) {
                                                System.err.println("describe topics: " + ex);
                                                rc = 1;
                                                break;
                                        }
                                        Thread.sleep(300);
                                } catch (java.util.concurrent.TimeoutException ex) {
                                        System.err.println("describe topics: " + ex);
                                        rc = 1;
                                        break;
                                }
                        }
                }
                return rc;
        }

        public static void main(String[] args) throws Exception {
                int rc;
                if (args.length == 3 && args[0].equals("wait"))
                        rc = waitReady(args[1], Long.parseLong(args[2]));
                else if ((args.length == 4 || args.length == 5) && args[0].equals("topics"))
                        rc = topics(args[1], args[2], Integer.parseInt(args[3]),
                                    Short.parseShort(args.length == 5 ? args[4] : "1"));
                else if (args.length == 4 && args[0].equals("leader"))
                        rc = leader(args[1], args[2], Integer.parseInt(args[3]));
                else if (args.length == 2 && args[0].equals("controller"))
                        rc = controller(args[1]);
                else if (args.length == 4 && args[0].equals("healthy"))
                        rc = healthy(args[1], Integer.parseInt(args[2]), Long.parseLong(args[3]));
                else {
                        System.err.println("usage: SrKafkaAdmin wait BOOTSTRAP TIMEOUT_MS | topics BOOTSTRAP PREFIX PARTITIONS [RF]"
                                           + " | leader BOOTSTRAP TOPIC PARTITION | controller BOOTSTRAP"
                                           + " | healthy BOOTSTRAP NODES TIMEOUT_MS");
                        rc = 2;
                }
                System.exit(rc);
        }
}
