"""The states the HPD3D sidebar panels are walked through by the panel tests (the real-window session in
gui_driver.py and the bpy background session in addon_session.py), so that every branch of every panel's
`draw` is reached: each source (with a mesh active, with an armature with and without an action), each
joint layout, each rig type (Scene Cameras with and without cameras), manual scale, the joint overlay on,
and after a run with the report box showing.

PanelStandIn is what the tests pass as a panel's `self`: its `layout` is the real UILayout wrapped so that
every call (label, prop, operator, row, ...) is also written to a list, so a test can see what a panel
showed (its fields, the Generate Dataset button, a warning).

Each state is (label, settings to set on scene.hpd3d, setup or None). A setup is a function of (paths)
run before the settings are set; `paths` has "sample_dir" (the sample walk's folder) and "out_dir"
(where the "report" state's run writes). Runs inside Blender (imports bpy).
"""
import types

import bpy


def panel_classes():
    """Every registered panel of the add-on (whatever its name): the Panel subclasses in the HPD3D tab."""
    found, todo = [], list(bpy.types.Panel.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if getattr(cls, "bl_category", None) == "HPD3D" and getattr(cls, "is_registered", False):
            found.append(cls)
    return sorted(set(found), key=lambda c: c.__name__)


class RecordingLayout:
    """A UILayout whose calls are also logged as {"call", "arg", "text", "icon"}; sub-layouts are wrapped."""

    def __init__(self, layout, log):
        object.__setattr__(self, "_layout", layout)
        object.__setattr__(self, "_log", log)

    def __getattr__(self, name):
        value = getattr(self._layout, name)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            out = value(*args, **kwargs)
            first = next((a for a in args if isinstance(a, str)), None)
            self._log.append({"call": name, "arg": first, "text": kwargs.get("text"), "icon": kwargs.get("icon")})
            return RecordingLayout(out, self._log) if isinstance(out, bpy.types.UILayout) else out
        return call

    def __setattr__(self, name, value):
        setattr(self._layout, name, value)


class PanelStandIn:
    """A panel's `self` for its draw: `layout` records (RecordingLayout); the panel class's Python methods
    (split_layout, ...) are bound to the stand-in; anything else comes from the real panel when there is
    one (a real window), else from the class."""

    def __init__(self, cls, layout, log, panel=None):
        self._cls, self._panel = cls, panel
        self.layout = RecordingLayout(layout, log)

    def __getattr__(self, name):
        value = getattr(self._cls, name)
        if isinstance(value, types.FunctionType):
            return value.__get__(self)
        return getattr(self._panel, name) if self._panel is not None else value


def _link(obj):
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _activate(obj):
    vl = bpy.context.view_layer
    for o in vl.objects:
        o.select_set(False)
    obj.select_set(True)
    vl.objects.active = obj


def mesh_active(paths):
    mesh = bpy.data.objects.get("HPD3D test mesh")
    if mesh is None:
        mesh = _link(bpy.data.objects.new("HPD3D test mesh", bpy.data.meshes.new("HPD3D test mesh")))
    _activate(mesh)


def armature_with_action(paths):
    """A two-bone armature whose hips move over frames 1..300 (an action), made active."""
    obj = bpy.data.objects.get("Walker")
    if obj is None:
        arm = bpy.data.armatures.new("Walker")
        obj = _link(bpy.data.objects.new("Walker", arm))
        _activate(obj)
        bpy.ops.object.mode_set(mode="EDIT")
        hips = arm.edit_bones.new("Hips")
        hips.head, hips.tail = (0, 0, 1.0), (0, 0, 1.2)
        spine = arm.edit_bones.new("Spine")
        spine.head, spine.tail, spine.parent = (0, 0, 1.2), (0, 0, 1.6), hips
        bpy.ops.object.mode_set(mode="OBJECT")
        bone = obj.pose.bones["Hips"]
        for frame, x in ((1, 0.0), (300, 1.0)):
            bone.location = (x, 0, 0)
            bone.keyframe_insert("location", frame=frame)
    _activate(obj)


def armature_without_action(paths):
    armature_with_action(paths)
    bpy.data.objects["Walker"].animation_data.action = None


def mesh_active_one_armature(paths):
    """The mesh active, one armature (with its action) in the scene: Generate Dataset takes that armature."""
    armature_with_action(paths)
    walker = bpy.data.objects["Walker"]
    if walker.animation_data.action is None:
        walker.animation_data.action = bpy.data.actions[0]
    mesh_active(paths)


def rig_cameras(paths):
    """Build Rig (Human3.6M) from the sample, so 'HPD3D Rig' holds cameras."""
    props = bpy.context.scene.hpd3d
    props.source, props.input_path, props.rig_type = "BVH", str(paths["sample_dir"]), "H36M"
    result = bpy.ops.hpd3d.build_rig()
    assert result == {"FINISHED"}, result


def report_after_run(paths):
    props = bpy.context.scene.hpd3d
    props.source, props.input_path, props.output_dir = "BVH", str(paths["sample_dir"]), str(paths["out_dir"])
    props.rig_type, props.overwrite = "H36M", True
    result = bpy.ops.hpd3d.generate_dataset()
    assert result == {"FINISHED"} and props.last_report, (result, props.last_report)


def overlay_on(paths):
    """Joint Overlay and its Detector layer on (the Cameras panel's buttons drawn pressed)."""
    rig_cameras(paths)
    from importlib import import_module
    overlay = import_module(bpy.types.HPD3D_OT_toggle_overlay.__module__)
    if not overlay.enabled():
        assert bpy.ops.hpd3d.toggle_overlay(layer="JOINTS") == {"FINISHED"}
    if not overlay.detector_shown():
        assert bpy.ops.hpd3d.toggle_overlay(layer="DETECTOR") == {"FINISHED"}


STATES = [
    ("defaults", {}, None),
    ("manual_scale", {"auto_scale": False}, None),
    ("resample_on", {"resample": True, "fps": 60.0}, None),
    ("resample_off", {"resample": False}, None),
    ("layout_source", {"layout": "source", "end_sites": True, "auto_scale": True}, None),
    ("layout_h36m17", {"layout": "h36m17", "end_sites": False}, None),
    ("rig_RING", {"rig_type": "RING"}, None),
    ("rig_DOME", {"rig_type": "DOME"}, None),
    ("rig_RANDOM", {"rig_type": "RANDOM", "fit": False}, None),
    ("rig_JSON", {"rig_type": "JSON", "fit": True}, None),
    ("rig_SCENE_empty", {"rig_type": "SCENE"}, None),
    ("rig_H36M", {"rig_type": "H36M"}, None),
    ("source_SCENE_mesh_active", {"source": "SCENE"}, mesh_active),
    ("source_SCENE_armature", {"source": "SCENE"}, armature_with_action),
    ("source_SCENE_armature_no_action", {"source": "SCENE"}, armature_without_action),
    ("source_SCENE_mesh_active_one_armature", {"source": "SCENE"}, mesh_active_one_armature),
    ("rig_SCENE_cameras", {"source": "BVH", "rig_type": "SCENE"}, rig_cameras),
    ("keypoints_occlusion", {"rig_type": "H36M", "detector": False, "occlusion": True, "layout_2d": "h36m17",
                             "noise": "cpn"}, None),
    ("keypoints_detector_coco17", {"detector": True, "layout_2d": "coco17", "noise": "gauss:3"}, None),
    ("overlay_on", {"rig_type": "H36M"}, overlay_on),
    ("report", {}, report_after_run),
]


def apply(state, paths):
    label, settings, setup = state
    if setup is not None:
        setup(paths)
    props = bpy.context.scene.hpd3d
    for key, value in settings.items():
        setattr(props, key, value)
    return label
