"""One Model shared by Python threads, the GIL released while camkit computes."""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import DOG, PHOTOS, SHAPE_PNG

PHOTO_LIST = sorted(os.path.join(PHOTOS, f) for f in os.listdir(PHOTOS) if f.endswith(".jpg"))


def test_threads_share_a_model_and_get_what_one_thread_gets(squeezenet):
    alone = {p: squeezenet.explain(p, top_k=2) for p in PHOTO_LIST}
    with ThreadPoolExecutor(4) as pool:
        shared = list(pool.map(lambda p: (p, squeezenet.explain(p, top_k=2)), PHOTO_LIST * 2))
    for photo, r in shared:
        assert r.classes == alone[photo].classes
        for a, b in zip(r.raw, alone[photo].raw):
            assert a.tobytes() == b.tobytes()


def test_the_gil_is_released_while_camkit_computes(squeezenet):
    """While one thread is inside a long camkit call, another runs Python code throughout:
    with the GIL held it could not run at all until the call returned."""
    ticks, call = [], []

    def work():
        start = time.monotonic()
        squeezenet.explain_batch([DOG, SHAPE_PNG] * 8, method="gradcam")
        call.extend([start, time.monotonic()])

    t = threading.Thread(target=work)
    t.start()
    while t.is_alive():
        ticks.append(time.monotonic())
    t.join()
    start, end = call
    inside = [start] + [x for x in ticks if start <= x <= end] + [end]
    longest_pause = max(b - a for a, b in zip(inside, inside[1:]))
    assert len(inside) > 100 and longest_pause < 0.5 * (end - start), (len(inside),
                                                                       longest_pause, end - start)
