"""The sidebar: View3D > Sidebar (N) > HPD3D, sections Input / Skeleton / Cameras / Output."""
import bpy

from . import overlay
from .operators import RIG_COLLECTION


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
        else:
            obj = context.view_layer.objects.active
            if obj is not None and obj.type == "ARMATURE":
                ad = obj.animation_data
                action = ad.action.name if ad and ad.action else "no action: scene frame range"
                layout.label(text=f"{obj.name} ({action})", icon="ARMATURE_DATA")
            else:
                layout.label(text="Select the armature to export", icon="ERROR")
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
            coll = bpy.data.collections.get(RIG_COLLECTION)
            n = sum(1 for o in coll.all_objects if o.type == "CAMERA") if coll else 0
            layout.label(text=f"{n} cameras in '{RIG_COLLECTION}'", icon="CAMERA_DATA" if n else "ERROR")
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
        layout.separator()
        layout.operator("hpd3d.generate_dataset", icon="EXPORT")
        if props.last_report:
            box = layout.box()
            for part in props.last_report.split(" | "):
                box.label(text=part)


CLASSES = (HPD3D_PT_input, HPD3D_PT_skeleton, HPD3D_PT_cameras, HPD3D_PT_output)
