"""OUR REPRODUCTION of the original genDataset3D.py method -- NOT the original code.

The original script (genDataset3D.py, run inside Blender 3.3) is not available to this project. This file
re-implements, with the `bpy` module, the behaviour described to us and in
../shared/docs/videopose3d-format.md ("What the original Blender script got wrong"), for two uses:

* the benchmark baseline (benchmarks/bench_generate.py runs it and reports camera-frames per second);
* a dataset in the original layout that `hpd3d check` must FAIL (tests/test_check_legacy.py).

What it does, per the description of the original:

* for each BVH file of the input folder (sub-folders are subjects, as the original did; a folder of BVH
  files is one subject named after the folder), import it with Blender's own BVH importer
  (`bpy.ops.import_anim.bvh`, axis_forward='-Z', axis_up='Y', global_scale = --scale, 0.01 for the
  Bandai Namco files which are in centimetres);
* drop the file if its armature lacks any joint of a hard-coded 17-joint table of Bandai Namco names
  (`BANDAI_17` below, in Human3.6M order);
* for each camera, for each frame: `scene.frame_set(frame)` (one full scene evaluation per camera per
  frame: the slow part), read the pose bones' world-space heads, and project them with
  `camera.calc_matrix_camera(depsgraph, x=1920, y=1080, scale_x=16, scale_y=9)` @ inverse camera world
  matrix.  Passing the IMAGE aspect 16:9 where Blender takes the PIXEL aspect is the original's bug: it
  stretches v by 16/9 about the image centre;
* round the 2D to whole pixels and write (-1, -1) for a joint outside the 1920x1080 image;
* write `camera_intrinsics.txt` (list of dicts: id, center, focal_length, radial_distortion,
  tangential_distortion, res_w, res_h, azimuth) with focal_length [1280, 1080] -- fy = 1080 is what the
  original wrote, where the 24 mm lens on a 36 mm sensor at 1920 px gives fx = fy = 1280 -- and
  `camera_extrinsics.txt` ({subject: [{'orientation': [w, x, y, z], 'translation': [mm]}, ...]}, the
  orientation in the shared doc's convention), both as Python literals, plus `data_3d_blender.npz`
  (positions_3d) and `data_2d_blender_gt.npz` (positions_2d, metadata with layout_name, num_joints,
  keypoints_symmetry). No cameras inside the npz files, as in the original.
* The frame range comes from `action.frame_range`: the original read `Action.fcurves`, which Blender 5.0
  removed; that read is the one thing replaced.

Details the description leaves open, chosen here and labelled as our choice: the cameras are Blender camera
objects (24 mm lens, 36 mm sensor, 1920x1080) in rings around a fixed target (--target, default 0,0,1 m)
at --distance metres (default 6), 8 per ring at elevations 0/30/60 degrees for 24 cameras (`--cameras N`
fills the rings in that order); the 3D joints are read during the first camera's pass (no extra
evaluation); 2D is stored as float32.

Run it with a Python that has the `bpy` module (bpy 5.0.1 in .venv):

    .venv/bin/python benchmarks/legacy_reproduction.py ../shared/fixtures/bvh --out /tmp/legacy --cameras 24

It prints camera-frames per second over the whole run (imports, evaluation, projection, files written)
and, with --json FILE, writes the figures for the benchmark.
"""
import argparse
import json
import math
import os
import pprint
import sys
import time
from pathlib import Path

import numpy as np

# Human3.6M order: Hip, RHip, RKnee, RFoot, LHip, LKnee, LFoot, Spine, Thorax, Neck/Nose, Head,
# LShoulder, LElbow, LWrist, RShoulder, RElbow, RWrist -> Bandai Namco bone names (heads).
BANDAI_17 = ["Hips", "UpperLeg_R", "LowerLeg_R", "Foot_R", "UpperLeg_L", "LowerLeg_L", "Foot_L",
             "Spine", "Chest", "Neck", "Head", "UpperArm_L", "LowerArm_L", "Hand_L",
             "UpperArm_R", "LowerArm_R", "Hand_R"]
KEYPOINTS_SYMMETRY = [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]
RES_X, RES_Y = 1920, 1080
LENS_MM, SENSOR_MM = 24.0, 36.0
RING_ELEVATIONS = (0.0, 30.0, 60.0)
PER_RING = 8


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Reproduction of the original genDataset3D.py method (needs bpy).")
    p.add_argument("input", help="folder of BVH files, or of subject sub-folders of BVH files")
    p.add_argument("--out", required=True, help="output folder (original layout)")
    p.add_argument("--cameras", type=int, default=24, help="number of cameras (default 24: 8@0, 8@30, 8@60 deg)")
    p.add_argument("--distance", type=float, default=6.0, help="camera distance from the target, m (default 6)")
    p.add_argument("--target", default="0,0,1", help="point the cameras look at, m (default 0,0,1)")
    p.add_argument("--scale", type=float, default=0.01, help="importer global_scale (default 0.01: cm -> m)")
    p.add_argument("--max-files", type=int, default=0, help="only the first N files (0: all)")
    p.add_argument("--subject", default="", help="subject name for a folder of BVH files (default: its name)")
    p.add_argument("--json", default="", help="also write the timing figures to this JSON file")
    return p.parse_args(argv)


def discover(folder, subject_name="", max_files=0):
    """[(subject, action, path)]: sub-folders are subjects; BVH files directly in `folder` are one subject."""
    folder = Path(folder)
    takes = []
    direct = sorted(folder.glob("*.bvh"))
    for f in direct:
        takes.append((subject_name or folder.resolve().name, f.stem, f))
    for d in sorted(p for p in folder.iterdir() if p.is_dir()):
        for f in sorted(d.glob("*.bvh")):
            takes.append((d.name, f.stem, f))
    return takes[:max_files] if max_files else takes


def ensure_bvh_importer():
    import addon_utils
    import bpy
    try:
        bpy.ops.import_anim.bvh.get_rna_type()
    except (AttributeError, KeyError, RuntimeError):
        addon_utils.enable("io_anim_bvh", default_set=True)


def empty_scene():
    import bpy
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.resolution_x = RES_X
    scene.render.resolution_y = RES_Y
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = 1.0
    scene.render.pixel_aspect_y = 1.0
    return scene


def add_cameras(scene, count, target, distance):
    """Blender camera objects in rings of 8 at 0/30/60 degrees (then more rings above), facing `target`."""
    import bpy
    from mathutils import Vector
    cams = []
    for k in range(count):
        ring, i = divmod(k, PER_RING)
        elev = RING_ELEVATIONS[ring] if ring < len(RING_ELEVATIONS) else min(85.0, 60.0 + 10.0 * (ring - 2))
        n = min(PER_RING, count - ring * PER_RING)
        az = 360.0 * i / n
        a, e = math.radians(az), math.radians(elev)
        # azimuth measured from the subject's front (world -Y), counter-clockwise seen from above
        offset = Vector((math.sin(a) * math.cos(e), -math.cos(a) * math.cos(e), math.sin(e))) * distance
        data = bpy.data.cameras.new(f"cam{k:02d}")
        data.lens = LENS_MM
        data.sensor_width = SENSOR_MM
        data.sensor_fit = "AUTO"
        ob = bpy.data.objects.new(f"cam{k:02d}", data)
        scene.collection.objects.link(ob)
        ob.location = Vector(target) + offset
        ob.rotation_mode = "QUATERNION"
        ob.rotation_quaternion = (Vector(target) - ob.location).to_track_quat("-Z", "Y")
        cams.append((ob, az))
    bpy.context.view_layer.update()
    return cams


def camera_tables(cams, subjects):
    """The original's camera_intrinsics.txt list and camera_extrinsics.txt dict."""
    from mathutils import Matrix
    intrinsics, extrinsics = [], []
    flip = Matrix.Diagonal((1.0, -1.0, -1.0))  # Blender camera (-Z forward, +Y up) -> x right, y down, z forward
    for ob, az in cams:
        intrinsics.append({
            "id": ob.name, "center": [RES_X / 2, RES_Y / 2],
            "focal_length": [LENS_MM / SENSOR_MM * RES_X, float(RES_Y)],  # the original's fy = 1080
            "radial_distortion": [0.0, 0.0, 0.0], "tangential_distortion": [0.0, 0.0],
            "res_w": RES_X, "res_h": RES_Y, "azimuth": float(az),
        })
        rot = ob.matrix_world.to_3x3().normalized() @ flip
        q = rot.to_quaternion()
        extrinsics.append({"orientation": [q.w, q.x, q.y, q.z],
                           "translation": [v * 1000.0 for v in ob.matrix_world.translation]})
    return intrinsics, {s: [dict(e) for e in extrinsics] for s in subjects}


def run(args):
    import bpy
    from mathutils import Vector
    takes = discover(args.input, args.subject, args.max_files)
    if not takes:
        raise SystemExit(f"{args.input}: no .bvh files")
    ensure_bvh_importer()
    scene = empty_scene()
    target = [float(v) for v in args.target.split(",")]
    started = time.perf_counter()
    cams = add_cameras(scene, args.cameras, target, args.distance)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    # The original's projection: IMAGE aspect 16:9 passed as the PIXEL aspect (the bug).
    proj = [ob.calc_matrix_camera(depsgraph, x=RES_X, y=RES_Y, scale_x=16, scale_y=9) @ ob.matrix_world.inverted()
            for ob, _ in cams]
    positions_3d, positions_2d, dropped = {}, {}, []
    camera_frames = 0
    frames_total = 0
    eval_seconds = 0.0
    for subject, action, path in takes:
        before = set(bpy.data.objects)
        bpy.ops.import_anim.bvh(filepath=str(path), axis_forward="-Z", axis_up="Y", global_scale=args.scale)
        arm = next(o for o in bpy.data.objects if o not in before and o.type == "ARMATURE")
        missing = [n for n in BANDAI_17 if n not in arm.pose.bones]
        if missing:
            dropped.append(f"{path}: missing {', '.join(missing)}")
        else:
            first, last = (int(round(v)) for v in arm.animation_data.action.frame_range)
            frames = list(range(first, last + 1))
            bones = [arm.pose.bones[n] for n in BANDAI_17]
            pos3 = np.zeros((len(frames), len(BANDAI_17), 3), dtype=np.float32)
            views = []
            t_eval = time.perf_counter()
            for c, m in enumerate(proj):
                pos2 = np.zeros((len(frames), len(BANDAI_17), 2), dtype=np.float32)
                for fi, frame in enumerate(frames):
                    scene.frame_set(frame)
                    mw = arm.matrix_world
                    for j, pb in enumerate(bones):
                        co = mw @ pb.head
                        if c == 0:
                            pos3[fi, j] = co
                        h = m @ Vector((co.x, co.y, co.z, 1.0))
                        x = (h.x / h.w + 1.0) * 0.5 * RES_X
                        y = (1.0 - h.y / h.w) * 0.5 * RES_Y
                        x, y = round(x), round(y)
                        if h.w <= 0 or not (0 <= x < RES_X and 0 <= y < RES_Y):
                            x, y = -1, -1
                        pos2[fi, j] = (x, y)
                views.append(pos2)
            eval_seconds += time.perf_counter() - t_eval
            positions_3d.setdefault(subject, {})[action] = pos3
            positions_2d.setdefault(subject, {})[action] = views
            camera_frames += len(frames) * len(cams)
            frames_total += len(frames)
        # remove the take before the next import, as a batch script must
        action_data = arm.animation_data.action if arm.animation_data else None
        data = arm.data
        bpy.data.objects.remove(arm, do_unlink=True)
        bpy.data.armatures.remove(data)
        if action_data is not None:
            bpy.data.actions.remove(action_data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    intrinsics, extrinsics = camera_tables(cams, list(positions_3d))
    (out / "camera_intrinsics.txt").write_text(pprint.pformat(intrinsics, sort_dicts=False) + "\n")
    (out / "camera_extrinsics.txt").write_text(pprint.pformat(extrinsics, sort_dicts=False) + "\n")
    np.savez_compressed(out / "data_3d_blender.npz", positions_3d=positions_3d)
    np.savez_compressed(out / "data_2d_blender_gt.npz", positions_2d=positions_2d,
                        metadata={"layout_name": "h36m", "num_joints": len(BANDAI_17),
                                  "keypoints_symmetry": KEYPOINTS_SYMMETRY})
    seconds = time.perf_counter() - started
    outside = sum(int((v == -1).all(axis=-1).sum()) for acts in positions_2d.values()
                  for views in acts.values() for v in views)
    points = sum(v.shape[0] * v.shape[1] for acts in positions_2d.values() for views in acts.values() for v in views)
    return {
        "method": "legacy reproduction (per camera per frame scene.frame_set, bpy)",
        "bpy": bpy.app.version_string, "files": len(takes), "written": sum(map(len, positions_3d.values())),
        "dropped": dropped, "frames": frames_total, "cameras": len(cams), "camera_frames": camera_frames,
        "seconds": seconds, "camera_frames_per_s": camera_frames / seconds,
        "eval_seconds": eval_seconds, "eval_camera_frames_per_s": camera_frames / eval_seconds if eval_seconds else 0.0,
        "joints_written_as_minus_1": outside, "joints_2d": points, "out": str(out),
    }


def main(argv=None):
    args = parse_args(argv)
    r = run(args)
    print(f"legacy reproduction (bpy {r['bpy']}): {r['written']} of {r['files']} files, {r['frames']} frames x "
          f"{r['cameras']} cameras = {r['camera_frames']} camera-frames in {r['seconds']:.2f} s -> "
          f"{r['camera_frames_per_s']:.0f} camera-frames/s "
          f"(evaluation loop alone {r['eval_camera_frames_per_s']:.0f}/s); "
          f"{r['joints_written_as_minus_1']} of {r['joints_2d']} 2D joints written as -1; output in {r['out']}")
    for d in r["dropped"]:
        print(f"dropped {d}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(r, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
