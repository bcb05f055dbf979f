"""The sidebar: View3D > Sidebar (N) > HPD3D, sections Input / Skeleton / Cameras (+ Placement, Lens and
Fitting) / Output (+ Options, Last Run).

Written for the sidebar's default width: labels are short (the setting's full name and explanation are its
tooltip), long sections have sub-panels, the output folder is also shown as a full path on its own lines,
and the last run's result has its own sub-panel with an Open Folder button.
"""
import os

import bpy

from . import overlay, run_status
from .rig_objects import RIG_COLLECTION, rig_camera_objects, rig_collection
from .scene_armature import SceneSourceError, choose_armature, unit_scale


class _HPD3DPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "HPD3D"

    @classmethod
    def poll(cls, context):
        return context.scene is not None and hasattr(context.scene, "hpd3d")

    def split_layout(self):
        """The panel's layout with labels left of their fields, as Blender's own property panels."""
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        return layout


LABEL_FACTOR = 0.36   # share of the sidebar's width for a field's label (Blender's own split gives 0.4)


def field(layout, props, name, text, **kw):
    """A labelled field: the short label right-aligned on the left, the value on the right; the setting's
    full name and explanation are its tooltip."""
    split = layout.split(factor=LABEL_FACTOR, align=True)
    split.use_property_split = False
    left = split.row()
    left.alignment = "RIGHT"
    left.label(text=text)
    split.prop(props, name, text="", **kw)
    return split


def check(layout, props, name, text, heading=""):
    """A checkbox in the value column (its `heading`, if any, in the label column), aligned with `field`s."""
    split = layout.split(factor=LABEL_FACTOR, align=True)
    split.use_property_split = False
    left = split.row()
    left.alignment = "RIGHT"
    left.label(text=heading)
    split.prop(props, name, text=text)
    return split


def note(layout, text):
    """A line of explanation in the value column."""
    field_note(layout, "", text)


def field_note(layout, label, text):
    """A label and a line of text in the value column, aligned with `field`s."""
    split = layout.split(factor=LABEL_FACTOR)
    split.use_property_split = False
    left = split.row()
    left.alignment = "RIGHT"
    left.label(text=label)
    split.label(text=text)


def wrapped_lines(text, context, indent=2):
    """`text` cut into lines that fit the sidebar's width (at separators where possible)."""
    region = context.region
    scale = context.preferences.system.ui_scale or 1.0   # 0 in background mode
    width = region.width if region and region.width > 1 else 300
    per_line = max(16, int((width - 40 * scale) / (7.5 * scale)) - indent)
    lines, rest = [], text
    while len(rest) > per_line:
        cut = max(rest.rfind(sep, 0, per_line) for sep in ("/", "\\", " ", "_", "-"))
        cut = cut + 1 if cut > per_line // 3 else per_line
        lines.append(rest[:cut])
        rest = rest[cut:]
    return lines + [rest] if rest else lines


def short_path(path):
    """An absolute path with the home folder written as ~."""
    if not path:
        return ""
    full = os.path.abspath(bpy.path.abspath(path))
    home = os.path.expanduser("~")
    return "~" + full[len(home):] if home and home != "/" and full.startswith(home + os.sep) else full


def path_lines(layout, context, path, icon="FILE_FOLDER"):
    """The full path, readable: on as many small lines as it needs."""
    col = layout.column(align=True)
    col.scale_y = 0.8
    for i, line in enumerate(wrapped_lines(short_path(path), context)):
        col.label(text=line, icon=icon if i == 0 else "BLANK1")


class HPD3D_PT_input(_HPD3DPanel, bpy.types.Panel):
    bl_idname = "HPD3D_PT_input"
    bl_label = "Input"

    def draw(self, context):
        props = context.scene.hpd3d
        layout = self.split_layout()
        col = layout.column(align=True)
        col.use_property_split = False
        col.prop(props, "source", expand=True)
        if props.source == "BVH":
            field(layout, props, "input_path", "Path")
            if props.input_path:
                path_lines(layout, context, props.input_path, icon="FILE")
            layout.operator("hpd3d.import_bvh", text="Import for Preview", icon="IMPORT")
        else:  # the armature Generate Dataset will read, or why there is none
            try:
                obj = choose_armature(context, depsgraph=False)
            except SceneSourceError as exc:
                text, icon = str(exc), "ERROR"
            else:
                ad = obj.animation_data
                action = ad.action.name if ad and ad.action else "no action: scene frame range"
                text, icon = f"{obj.name} ({action})", "ARMATURE_DATA"
            for i, line in enumerate(wrapped_lines(text, context)):
                layout.label(text=line, icon=icon if i == 0 else "BLANK1")
        field(layout, props, "subject", "Subject")


class HPD3D_PT_skeleton(_HPD3DPanel, bpy.types.Panel):
    bl_idname = "HPD3D_PT_skeleton"
    bl_label = "Skeleton"

    def draw(self, context):
        props = context.scene.hpd3d
        layout = self.split_layout()
        field(layout, props, "layout", "Layout")
        if props.layout == "source":
            check(layout, props, "end_sites", "Keep End Sites")
        else:
            field(layout, props, "preset", "Preset")
            field(layout, props, "mapping", "Mapping")
        if props.source == "BVH":
            check(layout, props, "auto_scale", "Auto", heading="Scale")
            row = layout.row()
            row.enabled = not props.auto_scale
            field(row, props, "scale", "Unit (m)")
        else:
            field_note(layout, "Scale", f"scene units: 1 = {unit_scale(context.scene):g} m")
        check(layout, props, "resample", "Resample", heading="Frames")
        if props.resample:
            field(layout, props, "fps", "FPS")
        else:
            note(layout, "each file's own rate")


class HPD3D_PT_cameras(_HPD3DPanel, bpy.types.Panel):
    bl_idname = "HPD3D_PT_cameras"
    bl_label = "Cameras"

    def draw(self, context):
        props = context.scene.hpd3d
        layout = self.split_layout()
        field(layout, props, "rig_type", "Rig")
        kind = props.rig_type
        if kind == "SCENE":
            coll = rig_collection(context.scene)
            n = len(rig_camera_objects(context.scene))
            layout.label(text=f"{n} cameras in '{coll.name if coll else RIG_COLLECTION}'",
                         icon="CAMERA_DATA" if n else "ERROR")
        if kind in ("RING", "RANDOM"):
            field(layout, props, "rig_count", "Cameras")
        if kind == "DOME":
            field(layout, props, "dome_rings", "Rings")
        if kind == "JSON":
            field(layout, props, "rig_file", "File")
        if kind != "SCENE":
            layout.operator("hpd3d.build_rig", icon="OUTLINER_OB_CAMERA")
        overlay_buttons(layout)


def overlay_buttons(layout):
    """Joint Overlay and Detector toggles (see overlay.py): pressed while shown."""
    row = layout.row(align=True)
    row.operator("hpd3d.toggle_overlay", text="Overlay", icon="HIDE_OFF" if overlay.enabled() else "HIDE_ON",
                 depress=overlay.enabled()).layer = "JOINTS"
    row.operator("hpd3d.toggle_overlay", text="Detector", depress=overlay.detector_shown()).layer = "DETECTOR"


def draw_keypoints(layout, props):
    """Options: 2D layout, detector keypoints and their noise model, or the occlusion mask alone."""
    row = layout.row()
    row.enabled = props.layout == "h36m17"  # COCO's face points come from the Human3.6M head
    field(row, props, "layout_2d", "2D Layout")
    check(layout, props, "detector", "Detector")
    if props.detector:
        field(layout, props, "noise", "Noise")
        field(layout, props, "noise_seed", "Seed")
    else:
        check(layout, props, "occlusion", "Occlusion Mask")


class _CamerasChild(_HPD3DPanel):
    bl_parent_id = "HPD3D_PT_cameras"

    @classmethod
    def poll(cls, context):
        return _HPD3DPanel.poll(context) and context.scene.hpd3d.rig_type != "SCENE"


class HPD3D_PT_cameras_placement(_CamerasChild, bpy.types.Panel):
    bl_idname = "HPD3D_PT_cameras_placement"
    bl_label = "Placement"

    def draw(self, context):
        props = context.scene.hpd3d
        layout = self.split_layout()
        kind = props.rig_type
        field(layout, props, "distance", "Distance")
        if kind in ("H36M", "RING"):
            field(layout, props, "height", "Height")
        if kind == "RANDOM":
            field(layout, props, "seed", "Seed")


class HPD3D_PT_cameras_lens(_CamerasChild, bpy.types.Panel):
    bl_idname = "HPD3D_PT_cameras_lens"
    bl_label = "Lens and Fitting"

    def draw(self, context):
        props = context.scene.hpd3d
        layout = self.split_layout()
        if props.rig_type != "H36M":
            field(layout, props, "focal", "Focal")
            col = layout.column(align=True)
            field(col, props, "res_w", "Width")
            field(col, props, "res_h", "Height")
        field(layout, props, "distortion", "Distortion")
        check(layout, props, "fit", "Fit to Motion")
        row = layout.row()
        row.enabled = props.fit
        field(row, props, "margin", "Margin")


class HPD3D_PT_output(_HPD3DPanel, bpy.types.Panel):
    bl_idname = "HPD3D_PT_output"
    bl_label = "Output"

    def draw(self, context):
        props = context.scene.hpd3d
        layout = self.split_layout()
        field(layout, props, "output_dir", "Folder")
        if props.output_dir:
            path_lines(layout, context, props.output_dir)
        field(layout, props, "dataset_name", "Name")
        check(layout, props, "overwrite", "Overwrite")
        progress = run_status.running(context.scene)
        if progress is None:
            layout.operator("hpd3d.generate_dataset", icon="EXPORT")
        else:
            box = layout.box()
            box.label(text="Generating ...", icon="TIME")
            box.label(text=progress.text())
            box.label(text="Esc cancels: nothing is written")


class HPD3D_PT_output_options(_HPD3DPanel, bpy.types.Panel):
    bl_idname = "HPD3D_PT_output_options"
    bl_label = "Options"
    bl_parent_id = "HPD3D_PT_output"

    def draw(self, context):
        props = context.scene.hpd3d
        layout = self.split_layout()
        check(layout, props, "strict", "Strict")
        check(layout, props, "preview", "Preview Image")
        draw_keypoints(layout, props)


class HPD3D_PT_output_result(_HPD3DPanel, bpy.types.Panel):
    bl_idname = "HPD3D_PT_output_result"
    bl_label = "Last Run"
    bl_parent_id = "HPD3D_PT_output"

    @classmethod
    def poll(cls, context):
        return _HPD3DPanel.poll(context) and (run_status.last_run(context.scene) is not None
                                              or bool(context.scene.hpd3d.last_report))

    def draw(self, context):
        layout = self.layout
        last = run_status.last_run(context.scene)
        if last is None:   # a report from before this session's runs: its lines as they are
            for part in context.scene.hpd3d.last_report.split(" | "):
                for line in wrapped_lines(part, context):
                    layout.label(text=line)
            return
        if not last.finished:
            for i, line in enumerate(wrapped_lines(last.message, context)):
                layout.label(text=line, icon="ERROR" if i == 0 else "BLANK1")
            return
        layout.label(text=f"{last.message} in {last.seconds:.1f} s", icon="CHECKMARK" if last.passed else "ERROR")
        rows = [("Files", str(len(last.files))), ("Sequences", str(last.sequences)), ("Frames", f"{last.frames:,}"),
                ("Cameras", f"{last.cameras} per subject"), ("Max error", f"{last.max_error_px:.1e} px")]
        if last.skipped:
            rows.append(("Skipped", f"{last.skipped} files"))
        for name, value in rows:
            split = layout.split(factor=0.45)
            left = split.row()
            left.alignment = "RIGHT"
            left.label(text=name)
            split.label(text=value)
        layout.label(text="reprojection check PASS" if last.passed else "reprojection check FAIL")
        path_lines(layout, context, last.out_dir)
        layout.operator("wm.path_open", text="Open Folder", icon="FILEBROWSER").filepath = last.out_dir


CLASSES = (HPD3D_PT_input, HPD3D_PT_skeleton, HPD3D_PT_cameras, HPD3D_PT_cameras_placement, HPD3D_PT_cameras_lens,
           HPD3D_PT_output, HPD3D_PT_output_options, HPD3D_PT_output_result)
