"""bin/authctl's class-data-sharing archives: every checkout of the same jar gets archives the JVM accepts.

The JVM takes an archive only with the jar file it was made from (path, size, time): an archive
made from one checkout's jar and found by another is silently ignored, and every start is slow
again. So the launcher runs a copy of the jar kept in the cache per digest, beside its archives.
"""
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
JAR = REPO / "java-ext" / "target" / "authctl.jar"


@pytest.fixture(scope="module", autouse=True)
def built():
    """The repository's jar, built if its sources changed (the launcher builds on first use)."""
    subprocess.run([str(REPO / "bin" / "authctl"), "version"], check=True, capture_output=True, timeout=900)


def checkout(where):
    """A second checkout's launcher and jar (same bytes, another path and file time)."""
    (where / "bin").mkdir(parents=True)
    (where / "java-ext" / "target").mkdir(parents=True)
    shutil.copy(REPO / "bin" / "authctl", where / "bin" / "authctl")
    shutil.copy(JAR, where / "java-ext" / "target" / "authctl.jar")
    return where


def run(root, cache):
    r = subprocess.run([str(root / "bin" / "authctl"), "version"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "DEXAUTH_CACHE": str(cache)})
    assert r.returncode == 0 and r.stdout.startswith("authctl "), r.stdout + r.stderr
    return r


def archives(cache):
    return sorted((cache / "cds").rglob("version-.jsa"))


def digest_dirs(cache):
    return sorted(d.name for d in (cache / "cds").iterdir() if (d / "authctl.jar").exists())


def test_checkouts_of_the_same_jar_share_one_archive_the_jvm_accepts(tmp_path):
    cache = tmp_path / "cache"
    one, two = checkout(tmp_path / "one"), checkout(tmp_path / "two")
    os.utime(two / "java-ext" / "target" / "authctl.jar", (1, 1))  # as a build at another time
    run(one, cache)  # makes the archive
    run(two, cache)  # finds it
    found = archives(cache)
    assert len(found) == 1 and len(digest_dirs(cache)) == 1, found
    # -Xshare:on fails instead of ignoring an archive it cannot use: the launcher's copy of the jar
    # is what the archive was made from, whichever checkout runs it.
    r = subprocess.run(["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-Xshare:on",
                        f"-XX:SharedArchiveFile={found[0]}", "-jar", str(found[0].parent / "authctl.jar"), "version"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def rebuild(root, n):
    """The checkout's jar built again from other sources: another digest."""
    with zipfile.ZipFile(root / "java-ext" / "target" / "authctl.jar", "a") as z:
        z.writestr(f"rebuild-{n}.txt", str(n))


def test_new_jars_get_their_own_archives_and_only_the_two_newest_others_are_kept(tmp_path):
    cache = tmp_path / "cache"
    old_layout = cache / "cds" / "_tmp_gone_java-ext_target_authctl.jar" / "0123456789abcdef-1-1"
    old_layout.mkdir(parents=True)
    (old_layout / "version-.jsa").write_bytes(b"archive of a layout the JVM never took from other checkouts")
    one = checkout(tmp_path / "one")
    run(one, cache)
    first = digest_dirs(cache)
    assert not old_layout.parent.exists()
    for n in range(1, 4):
        rebuild(one, n)
        run(one, cache)
    kept = digest_dirs(cache)
    assert len(kept) == 3 and first[0] not in kept, kept
    assert len(archives(cache)) == 3


def test_helm_native_library_is_ours_in_the_shaded_jar():
    """helm-java takes the first NativeLibrary service: only dexauth's, which loads Helm's 94 MB
    library from the launcher's cache directory instead of a fresh /tmp copy per JVM."""
    with zipfile.ZipFile(JAR) as z:
        services = z.read("META-INF/services/com.marcnuri.helm.jni.NativeLibrary").decode().split()
    assert services == ["dexauth.chart.HelmNativeLibrary"], services
