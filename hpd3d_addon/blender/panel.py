"""The sidebar: View3D > Sidebar (N) > HPD3D, sections Input / Skeleton / Cameras / Output."""
import bpy

from . import overlay
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


class HPD3D_PT_input(_HPD3DPanel, bpy.types.Panel):
    bl_idname = "HPD3D_PT_input"
    bl_label = "Input"

    def draw(self, context):
        props = context.scene.hpd3d
        layout = self.split_layout()
        layout.prop(props, "source")
        if props.source == "BVH":
            layout.prop(props, "input_path")
            layout.operator("hpd3d.import_bvh", icon="IMPORT")
        else:  # the armature Generate Dataset will read, or why there is none
            try:
                obj = choose_armature(context, depsgraph=False)
            except SceneSourceError as exc:
                layout.label(text=str(exc), icon="ERROR")
            else:
                ad = obj.animation_data
                action = ad.action.name if ad and ad.action else "no action: scene frame range"
                layout.label(text=f"{obj.name} ({action})", icon="ARMATURE_DATA")
        layout.prop(props, "subject")


class HPD3D_PT_skeleton(_HPD3DPanel, bpy.types.Panel):
    bl_idname = "HPD3D_PT_skeleton"
    bl_label = "Skeleton"

    def draw(self, context):
        props = context.scene.hpd3d
        layout = self.split_layout()
        layout.prop(props, "layout")
        if props.layout == "source":
            layout.prop(props, "end_sites")
        else:
            layout.prop(props, "preset")
            layout.prop(props, "mapping")
        if props.source == "BVH":
            layout.prop(props, "auto_scale")
            row = layout.row()
            row.enabled = not props.auto_scale
            row.prop(props, "scale")
        else:
            layout.label(text=f"Scale: scene units (1 unit = {unit_scale(context.scene):g} m)")
        layout.prop(props, "fps")


class HPD3D_PT_cameras(_HPD3DPanel, bpy.types.Panel):
    bl_idname = "HPD3D_PT_cameras"
    bl_label = "Cameras"

    def draw(self, context):
        props = context.scene.hpd3d
        layout = self.split_layout()
        layout.prop(props, "rig_type")
        kind = props.rig_type
        if kind == "SCENE":
            coll = rig_collection(context.scene)
            n = len(rig_camera_objects(context.scene))
            layout.label(text=f"{n} cameras in '{coll.name if coll else RIG_COLLECTION}'",
                         icon="CAMERA_DATA" if n else "ERROR")
            overlay_buttons(layout)
            return
        if kind in ("RING", "RANDOM"):
            layout.prop(props, "rig_count")
        if kind == "DOME":
            layout.prop(props, "dome_rings")
        if kind == "JSON":
            layout.prop(props, "rig_file")
        layout.prop(props, "distance")
        if kind in ("H36M", "RING"):
            layout.prop(props, "height")
        if kind != "H36M":
            layout.prop(props, "focal")
            col = layout.column(align=True)
            col.prop(props, "res_w", text="Resolution X")
            col.prop(props, "res_h", text="Y")
        if kind == "RANDOM":
            layout.prop(props, "seed")
        layout.prop(props, "fit")
        row = layout.row()
        row.enabled = props.fit
        row.prop(props, "margin")
        layout.prop(props, "distortion")
        layout.operator("hpd3d.build_rig", icon="OUTLINER_OB_CAMERA")
        overlay_buttons(layout)


def overlay_buttons(layout):
    """Joint Overlay and Detector toggles (see overlay.py): pressed while shown."""
    row = layout.row(align=True)
    row.operator("hpd3d.toggle_overlay", text="Joint Overlay", icon="HIDE_OFF" if overlay.enabled() else "HIDE_ON",
                 depress=overlay.enabled()).layer = "JOINTS"
    row.operator("hpd3d.toggle_overlay", text="Detector", depress=overlay.detector_shown()).layer = "DETECTOR"


def draw_keypoints(layout, props):
    """Output panel: 2D layout, detector keypoints and their noise model, or the occlusion mask alone."""
    row = layout.row()
    row.enabled = props.layout == "h36m17"  # COCO's face points come from the Human3.6M head
    row.prop(props, "layout_2d")
    layout.prop(props, "detector")
    if props.detector:
        layout.prop(props, "noise")
        layout.prop(props, "noise_seed")
    else:
        layout.prop(props, "occlusion")


class HPD3D_PT_output(_HPD3DPanel, bpy.types.Panel):
    bl_idname = "HPD3D_PT_output"
    bl_label = "Output"

    def draw(self, context):
        props = context.scene.hpd3d
        layout = self.split_layout()
        layout.prop(props, "output_dir")
        layout.prop(props, "dataset_name")
        layout.prop(props, "overwrite")
        layout.prop(props, "strict")
        layout.prop(props, "preview")
        draw_keypoints(layout, props)
        layout.separator()
        layout.operator("hpd3d.generate_dataset", icon="EXPORT")
        if props.last_report:
            box = layout.box()
            for part in props.last_report.split(" | "):
                box.label(text=part)


CLASSES = (HPD3D_PT_input, HPD3D_PT_skeleton, HPD3D_PT_cameras, HPD3D_PT_output)
