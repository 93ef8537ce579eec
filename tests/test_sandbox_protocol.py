"""The parent never unpickles what a sandbox child says: the child ran untrusted code."""

import os
import pickle

import numpy as np

from ibp_evolve.language.sandbox import (decode_masks, encode_masks, receive_reply,
                                         write_reply, _OK)


class _Payload:
    """Unpickling this object would create a file: the side effect a hostile child wants."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _reply_through_a_pipe(data: bytes, lengths):
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, len(data).to_bytes(8, "little") + data)
        return receive_reply(read_fd, 5.0, lengths)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_a_pickled_reply_is_read_as_a_dead_child_and_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    hostile = pickle.dumps(("ok", _Payload(str(marker))))
    assert _reply_through_a_pipe(hostile, [16]) == ("died", None)
    assert not marker.exists()


def test_a_reply_claiming_more_bytes_than_any_honest_reply_is_not_read():
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, (10 ** 12).to_bytes(8, "little"))
        assert receive_reply(read_fd, 5.0, [16]) == ("died", None)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_masks_round_trip_through_the_binary_reply(tmp_path):
    rng = np.random.default_rng(0)
    masks = [rng.random(n) < 0.3 for n in (1, 7, 8, 9, 1000)]
    path = tmp_path / "reply"
    with open(path, "wb") as stream:
        write_reply(stream, _OK, encode_masks(masks))
    status, got = _reply_through_a_pipe(path.read_bytes()[8:], [len(m) for m in masks])
    assert status == "ok" and all(np.array_equal(a, b) for a, b in zip(got, masks))
    assert decode_masks(encode_masks(masks), [len(m) + 1 for m in masks]) is None
