"""The lab's image cache: hosts of one lab build the same image at once (threads of one process)."""
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
import images  # noqa: E402


def test_threads_building_one_image_at_once_all_get_it(tmp_path):
    payload = tmp_path / "payload"
    payload.write_bytes(b"x" * 4_000_000)  # long enough to write for the builds to overlap
    image = images.Image("example.test/cache:1", {"/payload": payload}, entrypoint=["/payload"])
    cache = tmp_path / "cache"
    with ThreadPoolExecutor(4) as pool:
        layouts = list(pool.map(lambda _: images.build(image, cache), range(4)))
    assert len(set(layouts)) == 1 and layouts[0].exists()
    with tarfile.open(layouts[0]) as tar:
        assert "index.json" in tar.getnames()
    assert [p.name for p in cache.iterdir()] == [layouts[0].name]  # no temporary file left
