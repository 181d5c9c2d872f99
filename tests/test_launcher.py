"""bin/authctl's class-data-sharing archives: each checkout gets archives the JVM accepts.

The JVM takes an archive only with the jar file it was made from (path, size, time): an archive
made by one checkout and found by another is silently ignored, and every start is slow again.
"""
import os
import shutil
import subprocess
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


def test_each_checkout_gets_an_archive_the_jvm_accepts(tmp_path):
    cache = tmp_path / "cache"
    one, two = checkout(tmp_path / "one"), checkout(tmp_path / "two")
    os.utime(two / "java-ext" / "target" / "authctl.jar", (1, 1))  # as a build at another time
    for root in (one, two):
        run(root, cache)  # makes its archive
        run(root, cache)  # uses it
    found = archives(cache)
    assert len(found) == 2, found
    for root in (one, two):
        jar = root / "java-ext" / "target" / "authctl.jar"
        mine = [a for a in found if str(jar).replace("/", "_") in str(a)]
        assert len(mine) == 1, (jar, found)
        # -Xshare:on fails instead of ignoring an archive it cannot use.
        r = subprocess.run(["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-Xshare:on",
                            f"-XX:SharedArchiveFile={mine[0]}", "-jar", str(jar), "version"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr


def test_a_rebuilt_jar_replaces_the_archives_of_its_checkout_and_gone_checkouts_lose_theirs(tmp_path):
    cache = tmp_path / "cache"
    one, two = checkout(tmp_path / "one"), checkout(tmp_path / "two")
    run(one, cache)
    run(two, cache)
    assert len(archives(cache)) == 2
    shutil.rmtree(two)  # a clone deleted
    jar = one / "java-ext" / "target" / "authctl.jar"
    os.utime(jar, (1, 1))  # rebuilt
    run(one, cache)
    found = archives(cache)
    assert len(found) == 1 and found[0].parent.name.endswith(f"-{jar.stat().st_size}-1"), found
