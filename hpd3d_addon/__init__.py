"""HPD3D: motion capture (BVH or any armature animation) -> VideoPose3D training data.

A Blender add-on (register/unregister below) and a command-line tool (`hpd3d`) over one pure-numpy core
(`hpd3d_addon.core`). Importing this package does not need bpy.
"""
from .core import __version__

bl_info = {
    "name": "HPD3D: 3D Human Pose Dataset",
    "author": "HPD3D developers",
    # A literal: Blender's add-on list reads bl_info with ast.literal_eval without running this file, and
    # skips an add-on whose bl_info is not one. tools/build_addon.py checks it equals core.__version__.
    "version": (0, 1, 0),
    "blender": (3, 3, 0),
    "location": "View3D > Sidebar > HPD3D",
    "description": "Turn BVH motion capture or armature animation into VideoPose3D/Human3.6M-format datasets",
    "category": "Import-Export",
    "doc_url": "",
}


def register():
    from .blender import register as _register
    _register()


def unregister():
    from .blender import unregister as _unregister
    _unregister()
