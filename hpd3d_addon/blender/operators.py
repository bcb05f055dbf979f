"""Operators: bpy.ops.hpd3d.import_bvh, build_rig, generate_dataset.

They are a thin layer over the core: the same GenerateOptions as the command line, the same DatasetBuilder
(one file, or a few armature frames, per step; nothing is written before the last step), so the same
settings give the same dataset. User errors become one-line operator error reports.
"""
import bpy
import numpy as np

from ..core import __version__
from ..core.dataset import DatasetBuilder, GenerateOptions, load_take_safe, map_sequence
from ..core.discovery import discover
from ..core.errors import HPD3DError
from ..core.rigs import RigSettings, build_rig, parse_rig
from ..core.writer import refuse_existing
from . import run_status
from .rig_objects import RIG_COLLECTION, place_rig, rig_camera_objects
from .scene_armature import ArmatureSampler, SceneSourceError, choose_armature, unit_scale
from .scene_cameras import SceneCameraError, camera_from_object, camera_to_json_dict, render_settings_for

SCENE_SUBJECT = "S1"
FROZEN_M = 1e-6   # a sequence whose joints move less than this (metres) over all frames is a frozen pose


class UserError(HPD3DError):
    """A setting the user must change."""


def _f(value):
    """A float property's value as the user typed it: Blender stores float32, so 1.6 reads back as
    1.600000023841858; the shortest decimal that float32 rounds to the same value is what the CLI gets."""
    return float(str(np.float32(value)))


def length_m(value, scene):
    """A LENGTH property's value (Blender units) in metres: times the scene's Unit Scale."""
    return float(f"{_f(value) * unit_scale(scene):.9g}")


def _abspath(p):
    return bpy.path.abspath(p) if p else p


def rig_settings(props, scene):
    """RigSettings for the panel's camera settings (the same parsing as the CLI's --rig and options)."""
    if props.rig_type == "SCENE":
        cams = scene_rig_cameras(scene)
        return RigSettings(kind="json", json_path=f"scene collection '{RIG_COLLECTION}'",
                           json_cameras=[camera_to_json_dict(c) for c in cams], count=len(cams), fit=False,
                           res_w=props.res_w, res_h=props.res_h, focal=props.focal)
    spec = {"H36M": "h36m", "RING": f"ring:{props.rig_count}", "RANDOM": f"random:{props.rig_count}",
            "DOME": f"dome:{props.dome_rings}" if props.dome_rings.strip() else "dome",
            "JSON": _abspath(props.rig_file)}[props.rig_type]
    if props.rig_type == "JSON" and not props.rig_file:
        raise UserError("Rig File is empty: choose a JSON rig file")
    return parse_rig(spec, distance=length_m(props.distance, scene), height=length_m(props.height, scene),
                     focal=_f(props.focal),
                     res_w=props.res_w, res_h=props.res_h, fit=props.fit, margin=_f(props.margin), seed=props.seed,
                     distortion=props.distortion.strip() or "none")


def generate_options(props, scene):
    """GenerateOptions equal to `hpd3d generate` with the same settings."""
    if not props.output_dir:
        raise UserError("Output Folder is empty: choose where to write the dataset")
    if not props.dataset_name.strip():
        raise UserError("Dataset Name is empty")
    return GenerateOptions(out=_abspath(props.output_dir), name=props.dataset_name.strip(),
                           rig=rig_settings(props, scene), strict=props.strict, overwrite=props.overwrite,
                           preview=props.preview, **_motion_settings(props), **keypoint_settings(props))


def keypoint_settings(props):
    """--keypoints, --noise, --noise-seed, --layout-2d, --occlusion from the Output panel, checked at once."""
    from ..core.noise import parse_noise
    noise = props.noise.strip() or "cpn"
    parse_noise(_abspath(noise) if noise.endswith(".json") else noise)  # a bad model: one line, before any work
    layout_2d = props.layout_2d if props.layout == "h36m17" else "h36m17"
    return dict(keypoints=("gt", "detector") if props.detector else ("gt",),
                noise=_abspath(noise) if noise.endswith(".json") else noise,
                noise_seed=None if props.noise_seed < 0 else props.noise_seed, layout_2d=layout_2d,
                occlusion=props.occlusion)


def _motion_settings(props):
    """The settings that decide how motion is read and mapped (layout, skeleton, scale, fps, subject)."""
    return dict(layout=props.layout, end_sites=props.end_sites, preset=props.preset, mapping=_abspath(props.mapping),
                scale="auto" if props.auto_scale else _f(props.scale), fps=_f(props.fps) if props.resample else None,
                subject=props.subject.strip())


def scene_rig_cameras(scene):
    """Core cameras of the camera objects in the rig collection ('HPD3D Rig'), sorted by name."""
    objs = rig_camera_objects(scene)
    if not objs:
        raise UserError(f"rig type 'Scene Cameras' needs camera objects in the collection '{RIG_COLLECTION}' "
                        "(Build Rig makes one)")
    try:
        return [camera_from_object(o, scene, unit_scale(scene)) for o in objs]
    except SceneCameraError as exc:
        raise UserError(str(exc)) from None


def scene_armature(context):
    """The armature Generate Dataset, Build Rig and the overlay read (scene_armature.choose_armature)."""
    try:
        return choose_armature(context)
    except SceneSourceError as exc:
        raise UserError(str(exc)) from None


def refuse_existing_dataset(options):
    """Refuse before any work (the writer checks again when it writes): a dataset in the Output Folder and
    Overwrite off; in the panel's words."""
    try:
        refuse_existing(options.out, options.name, options.overwrite)
    except HPD3DError as exc:
        raise UserError(_ui_words(str(exc))) from None


def frozen_warning(item):
    """A warning line when a mapped take's joints never move (more than one frame), else None."""
    joints = getattr(item, "joints", None)
    if joints is None or len(joints) < 2 or float(np.abs(joints - joints[:1]).max()) > FROZEN_M:
        return None
    return (f"warning: {item.subject}/{item.action} ({item.source}): the joints never move over "
            f"{len(joints)} frames (a frozen pose)")


def scene_action_name(obj):
    ad = obj.animation_data
    return ad.action.name if ad is not None and ad.action is not None else obj.name


def bvh_inputs(props):
    path = _abspath(props.input_path)
    if not path:
        raise UserError("BVH Input is empty: choose a BVH file or a folder of BVH files")
    return discover([path], props.subject.strip() or None)


class SceneState:
    """The current frame, selection, active object and mode, to put back after evaluating the scene.

    Kept as names and numbers, not objects: an undo during a modal run replaces every object, and
    restore() works on the context it is given. Edit Mode is left on creation (Blender does not evaluate
    an armature's pose in Edit Mode) and entered again by restore()."""

    def __init__(self, context):
        scene, vl = context.scene, context.view_layer
        self.frame = (scene.frame_current, scene.frame_subframe)
        active = vl.objects.active
        self.active = active.name if active else None
        self.selected = {o.name for o in vl.objects if o.select_get(view_layer=vl)}
        self.mode = active.mode if active is not None else "OBJECT"
        if self.mode == "EDIT":
            bpy.ops.object.mode_set(mode="OBJECT")

    def restore(self, context):
        scene, vl = context.scene, context.view_layer
        if (scene.frame_current, scene.frame_subframe) != self.frame:
            scene.frame_set(self.frame[0], subframe=self.frame[1])
        for o in vl.objects:
            want = o.name in self.selected
            if o.select_get(view_layer=vl) != want:
                o.select_set(want, view_layer=vl)
        active = vl.objects.get(self.active) if self.active else None
        if vl.objects.active != active:
            vl.objects.active = active
        if self.mode == "EDIT" and active is not None and active.mode != "EDIT":
            bpy.ops.object.mode_set(mode="EDIT")


class Job:
    """The generation as small steps: one BVH file, or a few armature frames, per step; then write."""

    FRAMES_PER_STEP = 25

    def __init__(self, context):
        props = context.scene.hpd3d
        self.scene = context.scene
        self.options = generate_options(props, context.scene)
        refuse_existing_dataset(self.options)
        self.mapping = self.options.mapping_dict()
        self.warnings = []
        self.builder = DatasetBuilder(self.options)
        self.result = None
        if props.source == "BVH":
            self.takes = bvh_inputs(props)  # checked before anything runs: a bad path fails at once
            self.sampler = None
            self.total = len(self.takes)
        else:
            self.takes = []
            obj = scene_armature(context)
            self.sampler = ArmatureSampler(obj, context.scene, self.options.fps)
            self.subject = self.options.subject or SCENE_SUBJECT
            self.action = scene_action_name(obj)
            self.total = self.sampler.frame_count
        self.done = 0
        self.finished = False

    def step(self):
        """One unit of work; returns True when the dataset has been written."""
        if self.finished:
            return True
        if self.sampler is None and self.done < len(self.takes):
            self._add(load_take_safe(self.takes[self.done], self.options, self.mapping))
            self.done += 1
            return False
        if self.sampler is not None and not self.sampler.done >= self.sampler.frame_count:
            self.sampler.step(self.FRAMES_PER_STEP)
            self.done = self.sampler.done
            return False
        if self.sampler is not None:
            seq = self.sampler.sequence(self.subject, self.action)
            self._add(map_sequence(seq, self.options, self.mapping))
        self.result = self.builder.finish(extra_manifest={
            "blender": bpy.app.version_string, "addon": __version__,
            "source": "scene armature" if self.sampler is not None else "bvh files"})
        self.finished = True
        return True

    def _add(self, item):
        """Add a take to the dataset; a frozen one gets a warning in the report and its manifest entry."""
        warning = frozen_warning(item)
        if warning:
            self.warnings.append(warning)
            item.info["warning"] = warning[len("warning: "):]
        self.builder.add(item)

    def report_lines(self):
        return [_ui_words(line) for line in self.result.summary().splitlines()] + self.warnings


# The core words some errors for the command line; say them with the panel's names here.
CLI_WORDS = (("pass --overwrite to replace it or choose another --out",
              "tick Overwrite to replace it or choose another Output Folder"),
             ("(--strict: nothing written)", "(Strict: nothing written)"),
             ("use --fps to resample", "tick Resample to resample"),
             ("Pass a mapping with --mapping FILE.json", "Choose a Mapping File"))


def _ui_words(text):
    for cli, ui in CLI_WORDS:
        text = text.replace(cli, ui)
    return text


def _one_line(exc):
    return _ui_words(" ".join(str(exc).split("\n")))


# The running modal generation, if any: a second start is refused (poll) and an undo cancels it.
RUNNING = {"op": None}
UNDO_KEYS = {"Z", "Y"}


@bpy.app.handlers.persistent
def _on_undo(*_args):
    """undo_pre / redo_pre: an undo during a run replaces the objects the run holds: cancel it."""
    if RUNNING["op"] is not None:
        RUNNING["op"].undone = True


@bpy.app.handlers.persistent
def _on_load(*_args):
    """load_post: the report of a run belongs to the session that ran it, not to the .blend."""
    for scene in bpy.data.scenes:
        if hasattr(scene, "hpd3d") and scene.hpd3d.last_report:
            scene.hpd3d.last_report = ""


HANDLERS = (("undo_pre", _on_undo), ("redo_pre", _on_undo), ("load_post", _on_load))


def add_handlers():
    for name, fn in HANDLERS:
        handlers = getattr(bpy.app.handlers, name)
        if fn not in handlers:
            handlers.append(fn)


def remove_handlers():
    for name, fn in HANDLERS:
        handlers = getattr(bpy.app.handlers, name)
        while fn in handlers:
            handlers.remove(fn)


class HPD3D_OT_generate_dataset(bpy.types.Operator):
    """Write a VideoPose3D dataset (3D joints, 2D keypoints per camera, cameras, loader) to the Output Folder"""
    bl_idname = "hpd3d.generate_dataset"
    bl_label = "Generate Dataset"
    bl_options = {"REGISTER"}

    _timer = None
    _job = None
    _state = None
    undone = False

    @classmethod
    def poll(cls, context):
        if RUNNING["op"] is not None:
            cls.poll_message_set("Generate Dataset is already running (Esc cancels it)")
            return False
        return True

    def _finish_report(self, context, job):
        lines = job.report_lines()
        context.scene.hpd3d.last_report = " | ".join(lines)
        run_status.finished(context.scene, job.result)
        for line in lines:
            self.report({"WARNING"} if ("FAIL" in line or "skipped" in line or "warning" in line) else {"INFO"},
                        line)

    def execute(self, context):
        state = SceneState(context)
        try:
            job = Job(context)
            while not job.step():
                pass
        except HPD3DError as exc:
            self.report({"ERROR"}, _one_line(exc))
            run_status.stopped(context.scene, "error: " + _one_line(exc))
            return {"CANCELLED"}
        finally:
            state.restore(context)
        self._finish_report(context, job)
        return {"FINISHED"}

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        self._state = SceneState(context)
        try:
            self._job = Job(context)
        except HPD3DError as exc:
            self._state.restore(context)
            self.report({"ERROR"}, _one_line(exc))
            return {"CANCELLED"}
        wm = context.window_manager
        wm.progress_begin(0, max(self._job.total, 1))
        self._timer = wm.event_timer_add(0.001, window=context.window)
        wm.modal_handler_add(self)
        RUNNING["op"] = self
        run_status.started(context.scene, self._job)
        run_status.update(context, self._job)
        return {"RUNNING_MODAL"}

    def _cleanup(self, context):
        RUNNING["op"] = None
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        if context.workspace:
            context.workspace.status_text_set(None)
        if self._state is not None:
            self._state.restore(context)

    def _cancel(self, context, why):
        self._cleanup(context)
        self.report({"WARNING"}, f"Generate Dataset cancelled{why}: nothing written")
        context.scene.hpd3d.last_report = f"cancelled{why}: nothing written"
        run_status.stopped(context.scene, f"cancelled{why}: nothing written")
        return {"CANCELLED"}

    def modal(self, context, event):
        if self.undone:
            return self._cancel(context, " (undo during the run)")
        if event.type == "ESC":
            return self._cancel(context, "")
        if event.type in UNDO_KEYS and event.value == "PRESS" and (event.ctrl or event.oskey):
            self.report({"WARNING"}, "undo is off while Generate Dataset runs (Esc cancels it)")
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        job = self._job
        try:
            done = job.step()
        except HPD3DError as exc:
            self._cleanup(context)
            self.report({"ERROR"}, _one_line(exc))
            context.scene.hpd3d.last_report = "error: " + _one_line(exc)
            run_status.stopped(context.scene, "error: " + _one_line(exc))
            return {"CANCELLED"}
        except ReferenceError:  # the armature was deleted during the run
            return self._cancel(context, " (the armature was removed during the run)")
        except Exception:
            self._cleanup(context)
            run_status.stopped(context.scene, "error: Generate Dataset failed (the details are in the console)")
            raise
        context.window_manager.progress_update(job.done)
        run_status.update(context, job)
        if done:
            self._cleanup(context)
            self._finish_report(context, job)
            return {"FINISHED"}
        return {"RUNNING_MODAL"}


class HPD3D_OT_import_bvh(bpy.types.Operator):
    """Import the BVH Input (or the first file of the folder) as an armature with its animation, read the way
    Generate Dataset reads it (same joints, scale and frames), to look at it before generating"""
    bl_idname = "hpd3d.import_bvh"
    bl_label = "Import BVH for Preview"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from .bvh_import import import_bvh
        props = context.scene.hpd3d
        if context.view_layer.objects.active is not None and context.mode != "OBJECT":
            bpy.ops.object.mode_set(mode="OBJECT")
        try:
            path = str(bvh_inputs(props)[0].path)
            obj, seq = import_bvh(context, path, "auto" if props.auto_scale else _f(props.scale))
        except HPD3DError as exc:
            self.report({"ERROR"}, _one_line(exc))
            return {"CANCELLED"}
        metres = unit_scale(context.scene)
        if metres != 1.0:  # the armature is built in metres: in Blender units it is 1 / Unit Scale as large
            obj.scale = (1.0 / metres,) * 3
        self.report({"INFO"}, f"imported {path}: armature '{obj.name}', {len(obj.data.bones)} bones, "
                              f"{seq.frame_count} frames at {seq.fps:g} fps, scale {seq.scale:g} m per BVH unit")
        return {"FINISHED"}


class HPD3D_OT_build_rig(bpy.types.Operator):
    """Create or update the rig's cameras as camera objects in the 'HPD3D Rig' collection, placed around the
    motion of the first subject (or the active armature), so they can be seen and edited"""
    bl_idname = "hpd3d.build_rig"
    bl_label = "Build Rig"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        scene = context.scene
        props = scene.hpd3d
        state = SceneState(context)
        try:
            if props.rig_type == "SCENE":
                cams = scene_rig_cameras(scene)
                self.report({"INFO"}, f"rig type 'Scene Cameras' uses the {len(cams)} cameras of '{RIG_COLLECTION}' "
                                      "as they are; choose another rig type to build one")
                return {"FINISHED"}
            settings = rig_settings(props, scene)
            subject, points = self._motion(context, props)
            cameras = build_rig(settings, points, subject)
            rx, ry, ax, ay = render_settings_for(cameras)
        except (HPD3DError, SceneCameraError) as exc:
            self.report({"ERROR"}, _one_line(exc))
            return {"CANCELLED"}
        finally:
            state.restore(context)
        render = scene.render
        render.resolution_x, render.resolution_y, render.resolution_percentage = rx, ry, 100
        render.pixel_aspect_x, render.pixel_aspect_y = ax, ay
        coll, _objects = place_rig(scene, cameras, unit_scale(scene))
        context.view_layer.update()
        self.report({"INFO"}, f"rig '{settings.describe()}': {len(cameras)} cameras in '{coll.name}' around "
                              f"subject {subject}, {rx}x{ry} px")
        return {"FINISHED"}

    def _motion(self, context, props):
        options = generate_options_for_rig(props)
        if props.source == "SCENE":
            obj = scene_armature(context)
            from .scene_armature import evaluate_armature
            seq = evaluate_armature(obj, context.scene, options.subject or SCENE_SUBJECT, scene_action_name(obj),
                                    options.fps)
            return seq.subject, map_sequence(seq, options, options.mapping_dict()).joints
        takes = bvh_inputs(props)
        subject = takes[0].subject
        mapping = options.mapping_dict()
        joints = []
        for t in takes:
            if t.subject != subject:
                continue
            item = load_take_safe(t, options, mapping)
            if hasattr(item, "joints"):
                joints.append(item.joints.reshape(-1, 3))
        if not joints:
            raise UserError(f"no file of subject {subject} could be read; see Generate Dataset for the errors")
        return subject, np.concatenate(joints)


def generate_options_for_rig(props):
    """Options for reading the motion only (no output folder needed)."""
    return GenerateOptions(**_motion_settings(props))


CLASSES = (HPD3D_OT_import_bvh, HPD3D_OT_build_rig, HPD3D_OT_generate_dataset)
