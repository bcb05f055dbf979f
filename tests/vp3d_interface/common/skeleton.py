"""Skeleton(parents, joints_left, joints_right), the part of VideoPose3D's class the loader relies on."""
import numpy as np


class Skeleton:
    def __init__(self, parents, joints_left, joints_right):
        assert len(joints_left) == len(joints_right)
        self._parents = np.array(parents)
        self._joints_left = joints_left
        self._joints_right = joints_right

    def num_joints(self):
        return len(self._parents)

    def parents(self):
        return self._parents

    def joints_left(self):
        return self._joints_left

    def joints_right(self):
        return self._joints_right
