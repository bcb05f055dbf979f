"""What the HPD3D panels must show in the states of scripts/panel_states.py, checked on the calls a panel's
draw made on its layout (recorded by panel_states.RecordingLayout, in bpy 5.0 and in the real window)."""


def _has(calls, call, arg=None, text=None):
    return any(c["call"] == call and (arg is None or c["arg"] == arg)
               and (text is None or text in (c["text"] or "")) for c in calls)


def shown_problems(label, panels):
    """Problems with what the panels showed in state `label`; `panels` maps panel name -> its calls."""
    problems = []

    def need(panel, ok, what):
        if not ok:
            problems.append(f"{label}: {panel} does not show {what}")
    output, inputs = panels.get("HPD3D_PT_output", []), panels.get("HPD3D_PT_input", [])
    cameras = panels.get("HPD3D_PT_cameras", [])
    need("HPD3D_PT_output", _has(output, "operator", "hpd3d.generate_dataset"), "the Generate Dataset button")
    need("HPD3D_PT_output", _has(output, "prop", "output_dir"), "the Output Folder field")
    need("HPD3D_PT_input", _has(inputs, "prop", "source"), "the Source field")
    if not label.startswith("source_SCENE"):
        need("HPD3D_PT_input", _has(inputs, "prop", "input_path") and _has(inputs, "operator", "hpd3d.import_bvh"),
             "the BVH Input field and Import BVH")
    if label == "source_SCENE_mesh_active_one_armature":  # Generate takes the only armature: no warning
        need("HPD3D_PT_input", _has(inputs, "label", text="Walker ("), "the armature Generate Dataset will read")
        need("HPD3D_PT_input", not any(c["icon"] == "ERROR" for c in inputs), "no warning (it shows one)")
    if label == "rig_SCENE_cameras":
        need("HPD3D_PT_cameras", _has(cameras, "label", text="4 cameras in"), "the 4 cameras of the rig")
    elif "SCENE" not in label or label.startswith("source_SCENE"):
        need("HPD3D_PT_cameras", _has(cameras, "operator", "hpd3d.build_rig"), "the Build Rig button")
    if label == "report":  # the Last Run sub-panel: what was written, and a way to it
        result = panels.get("HPD3D_PT_output_result", [])
        need("HPD3D_PT_output_result", _has(result, "label", text="wrote 1 sequences"), "the run's report")
        need("HPD3D_PT_output_result", _has(result, "label", text="Max error"), "the reprojection error")
        need("HPD3D_PT_output_result", _has(result, "operator", "wm.path_open"), "the Open Folder button")
    return problems
