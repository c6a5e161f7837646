# SPDX-License-Identifier: GPL-2.0-or-later
"""The key server's LKH tree, as RFC 9838 Appendix A draws it: the root
holds the Rekey SA key (Key ID 0), every other node a key wrap key whose
Key ID is given in order of creation (1, 2, ... across the tree, a new ID
for every new key), leaves are the members' own keys."""
from . import crypto
from .wire import WrappedKey


class Tree:
    def __init__(self, depth, key_size):
        self.depth, self.size = depth, key_size
        self.next_id = 1
        self.keys = {}  # heap index (root 1) -> (Key ID, key)
        self.leaf_of = {}  # member -> heap index
        for n in range(2, 2 ** depth):  # the inner nodes, breadth first
            self.keys[n] = self._fresh()

    def _fresh(self):
        kid = self.next_id
        self.next_id += 1
        return kid, crypto.random_bytes(self.size)

    def _occupied(self, n):
        lo, hi = n, n
        while lo < 2 ** self.depth:
            lo, hi = 2 * lo, 2 * hi + 1
        return any(lo <= leaf <= hi for leaf in self.leaf_of.values())

    def join(self, member):
        """A leaf with a fresh key for member; returns the member key bag's
        WRAP_KEYs (its path, each under the key below, the leaf under
        GSK_w) and the root child's (Key ID, key) the SA key is wrapped under."""
        if member in self.leaf_of:
            self.leave_quiet(member)
        free = [n for n in range(2 ** self.depth, 2 ** (self.depth + 1)) if n not in self.leaf_of.values()]
        if not free:
            return None
        leaf = free[0]
        self.leaf_of[member] = leaf
        self.keys[leaf] = self._fresh()
        return leaf

    def path(self, member):
        """[(Key ID, key)] from the leaf up to the root's child."""
        n, out = self.leaf_of[member], []
        while n > 1:
            out.append(self.keys[n])
            n //= 2
        return out

    def registration_wraps(self, member, kwa_gsk_w, kw):
        """Appendix A: 'KD(GP(SA1)(1{K_sa1}),MP(3{1},7{3},GSK_w{7})'. Returns
        (WRAP_KEYs, the key the SA key goes under)."""
        p = self.path(member)
        wraps = [WrappedKey(p[0][0], 0, kw(kwa_gsk_w, p[0][1]))]
        for below, above in zip(p, p[1:]):
            wraps.append(WrappedKey(above[0], below[0], kw(below[1], above[1])))
        return wraps, p[-1]

    def leave_quiet(self, member):
        leaf = self.leaf_of.pop(member)
        self.keys.pop(leaf, None)

    def evict(self, member, kw):
        """Appendix A 'Group Member Exclusion': every key on the member's
        path gets a new key and Key ID; returns (WRAP_KEYs for the others,
        [(Key ID, key)] of the root's children the new SA key goes under)."""
        leaf = self.leaf_of.pop(member)
        self.keys.pop(leaf)
        n, changed = leaf // 2, []
        while n > 1:
            changed.append(n)
            n //= 2
        for n in reversed(changed):  # new Key IDs from the top, as Appendix A numbers them
            self.keys[n] = self._fresh()
        wraps = []
        for n in reversed(changed):  # from the top: each new key under its children's keys
            for ch in (2 * n, 2 * n + 1):
                if ch == leaf or ch not in self.keys or not self._occupied(ch):
                    continue
                wraps.append(WrappedKey(self.keys[n][0], self.keys[ch][0], kw(self.keys[ch][1], self.keys[n][1])))
        tops = [self.keys[c] for c in (2, 3) if self._occupied(c)]
        return wraps, tops
