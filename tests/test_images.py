"""The lab's image cache: hosts of one lab build the same image at once (threads of one process)."""
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
import images  # noqa: E402


def test_threads_building_one_image_at_once_all_get_it_built_once(tmp_path, monkeypatch):
    payload = tmp_path / "payload"
    payload.write_bytes(b"x" * 4_000_000)  # long enough to write for the builds to overlap
    image = images.Image("example.test/cache:1", {"/payload": payload}, entrypoint=["/payload"])
    cache = tmp_path / "cache"
    writes = []
    write_layout = images.Image.write_layout
    monkeypatch.setattr(images.Image, "write_layout", lambda self, out: (writes.append(out), write_layout(self, out)))
    with ThreadPoolExecutor(4) as pool:
        layouts = list(pool.map(lambda _: images.build(image, cache), range(4)))
    assert len(set(layouts)) == 1 and layouts[0].exists()
    assert len(writes) == 1, "the others waited for the first build and took it"
    with tarfile.open(layouts[0]) as tar:
        assert "index.json" in tar.getnames()
    # No temporary file left (the lock file stays: removing it would let two builders lock two files).
    assert sorted(p.name for p in cache.iterdir()) == [layouts[0].name, layouts[0].name + ".lock"]
