package sr.peer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/** One pipeline run's state as the peer keeps it in its RocksDB store (one
 *  value per run id, logged to the store's changelog topic). Serialized by
 *  hand (DataOutput): a schema-less fixed layout, what a careful Streams
 *  engineer would pick over JSON for a hot store. */
final class RunState {
    static final class Target {
        String id, commandId, deviceId, deviceName;
        String status;
        long version;
    }

    static final class Stage {
        String id, name, operationType, argsJson;
        String status;
        long version;
        int nTerminal, nSuccess;
        List<Target> targets = new ArrayList<>();
        /** the spec's targets (device id, name), materialised on processing */
        List<String[]> specTargets = new ArrayList<>();
    }

    String runId, pipelineId, enterpriseId, status, causation;
    boolean autoPromote;
    long version, seq;
    List<Stage> stages = new ArrayList<>();

    static String str(DataInputStream in) throws IOException {
        return in.readUTF();
    }

    byte[] toBytes() {
        try {
            ByteArrayOutputStream bo = new ByteArrayOutputStream(256);
            DataOutputStream o = new DataOutputStream(bo);
            o.writeUTF(runId); o.writeUTF(pipelineId); o.writeUTF(enterpriseId);
            o.writeUTF(status); o.writeBoolean(autoPromote);
            o.writeLong(version); o.writeLong(seq);
            o.writeInt(stages.size());
            for (Stage s : stages) {
                o.writeUTF(s.id); o.writeUTF(s.name); o.writeUTF(s.operationType);
                o.writeUTF(s.argsJson); o.writeUTF(s.status); o.writeLong(s.version);
                o.writeInt(s.nTerminal); o.writeInt(s.nSuccess);
                o.writeInt(s.specTargets.size());
                for (String[] t : s.specTargets) { o.writeUTF(t[0]); o.writeUTF(t[1]); }
                o.writeInt(s.targets.size());
                for (Target t : s.targets) {
                    o.writeUTF(t.id); o.writeUTF(t.commandId); o.writeUTF(t.deviceId);
                    o.writeUTF(t.deviceName); o.writeUTF(t.status); o.writeLong(t.version);
                }
            }
            o.flush();
            return bo.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static RunState fromBytes(byte[] b) {
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(b));
            RunState r = new RunState();
            r.runId = str(in); r.pipelineId = str(in); r.enterpriseId = str(in);
            r.status = str(in); r.autoPromote = in.readBoolean();
            r.version = in.readLong(); r.seq = in.readLong();
            int ns = in.readInt();
            for (int i = 0; i < ns; i++) {
                Stage s = new Stage();
                s.id = str(in); s.name = str(in); s.operationType = str(in);
                s.argsJson = str(in); s.status = str(in); s.version = in.readLong();
                s.nTerminal = in.readInt(); s.nSuccess = in.readInt();
                int nst = in.readInt();
                for (int j = 0; j < nst; j++) s.specTargets.add(new String[] {str(in), str(in)});
                int nt = in.readInt();
                for (int j = 0; j < nt; j++) {
                    Target t = new Target();
                    t.id = str(in); t.commandId = str(in); t.deviceId = str(in);
                    t.deviceName = str(in); t.status = str(in); t.version = in.readLong();
                    s.targets.add(t);
                }
                r.stages.add(s);
            }
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
