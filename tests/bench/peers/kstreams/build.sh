#!/usr/bin/env bash
# tests/bench/peers/kstreams/build.sh BUILD_DIR - build the Kafka Streams
# peer into BUILD_DIR/kstreams-peer: the jars of pom.xml once from Maven
# Central (mvn dependency:copy-dependencies, local repo BUILD_DIR/kafka/m2 as
# the broker's and the consumer examples'), then javac (Java 17).
# Run it: java -Xmx256m -cp BUILD_DIR/kstreams-peer/classes:BUILD_DIR/kstreams-peer/libs/* \
#           sr.peer.Peer --bootstrap HOST:PORT --schemas schemas --prefix sr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: build.sh BUILD_DIR}" && pwd)
out=$build/kstreams-peer
mkdir -p "$out"
if [ ! -d "$out/libs" ] || [ "$here/pom.xml" -nt "$out/libs" ]; then
        rm -rf "$out/libs" "$out/libs.tmp"
        mvn -q -B -f "$here/pom.xml" -Dmaven.repo.local="$build/kafka/m2" \
                dependency:copy-dependencies -DoutputDirectory="$out/libs.tmp"
        mv "$out/libs.tmp" "$out/libs"
fi
rm -rf "$out/classes"
javac -Xlint:-deprecation -nowarn --release 17 -d "$out/classes" -cp "$out/libs/*" \
        "$here"/src/main/java/sr/peer/*.java
