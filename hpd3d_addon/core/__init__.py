"""The pure-numpy engine of HPD3D: BVH reading, kinematics, skeleton mapping, cameras, projection, writing.

Nothing here imports bpy, so it runs on any Python 3.10+ with numpy, inside Blender or not.
"""
__version__ = "0.1.0"
