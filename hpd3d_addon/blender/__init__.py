"""The Blender layer: settings, sidebar panels and operators over the core. Imports bpy.

register()/unregister() are idempotent: registering twice, or unregistering what is not registered,
raises nothing and leaves no trace.
"""
import bpy

from . import operators, overlay, panel, properties, run_status

CLASSES = properties.CLASSES + operators.CLASSES + overlay.CLASSES + panel.CLASSES


def _is_registered(cls):
    return getattr(cls, "is_registered", False)


def register():
    unregister()  # a second register() replaces the first instead of failing
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    properties.attach()
    operators.add_handlers()
    run_status.add_handlers()


def unregister():
    overlay.disable()
    operators.remove_handlers()
    run_status.remove_handlers()
    properties.detach()
    for cls in reversed(CLASSES):
        if _is_registered(cls):
            bpy.utils.unregister_class(cls)
