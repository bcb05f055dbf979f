"""Settings of the add-on: one PropertyGroup on the scene, `scene.hpd3d`, saved with the .blend.

Defaults equal the `hpd3d generate` command line's (tests/blender checks them against cli.build_parser()).
Lengths (Distance, Camera Height) are LENGTH properties, so, like every length in Blender, they hold Blender
units and show them times the scene's Unit Scale ("5 m" typed in a centimetre scene is stored as 500); the
operators take metres = value x Unit Scale (operators.length_m). (Metres stored behind get/set callbacks
would keep the defaults at 5 m in any scene, but such properties crash pip's bpy 4.2 on exit.)
"""
import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..core.skeleton_presets import PRESETS

RIG_TYPES = [
    ("H36M", "Human3.6M", "4 cameras placed and shaped like Human3.6M's (1000x1000 px, its focal lengths)"),
    ("RING", "Ring", "Cameras evenly spaced on a circle around the subject at Camera Height"),
    ("DOME", "Dome", "Rings of cameras at several elevations (Dome Rings)"),
    ("RANDOM", "Random", "Cameras at random azimuth, elevation, distance, focal length and roll (seeded)"),
    ("JSON", "Rig File", "Cameras from a JSON rig file"),
    ("SCENE", "Scene Cameras", "The camera objects of the 'HPD3D Rig' collection, exactly as they are "
                               "(lens, sensor, shift, resolution, pixel aspect, placement)"),
]


def _preset_items():
    items = [("auto", "Auto-detect", "Pick the preset whose joint names fit the skeleton")]
    items += [(p.name, p.name, p.description) for p in PRESETS.values()]
    return items


PRESET_ITEMS = _preset_items()



class HPD3DSettings(bpy.types.PropertyGroup):
    # Input
    source: EnumProperty(
        name="Source", default="BVH",
        items=[("BVH", "BVH Files", "Read the BVH file or folder given in BVH Input"),
               ("SCENE", "Scene Armature", "The active armature's animation as Blender evaluates it "
                                           "(BVH, FBX, glTF, retargeted, ...), over its action's frame range")],
        description="Where the motion comes from")
    input_path: StringProperty(
        name="BVH Input", subtype="FILE_PATH", default="",
        description="A BVH file, a folder of BVH files (one subject), or a folder of subject folders")
    subject: StringProperty(
        name="Subject", default="",
        description="Subject name for every sequence; empty: from the folder names (BVH), 'S1' (scene)")
    # Skeleton
    layout: EnumProperty(
        name="Joint Layout", default="h36m17",
        items=[("h36m17", "Human3.6M 17", "Human3.6M's 17 joints, what VideoPose3D-family models expect"),
               ("source", "Source Joints", "Every joint of the skeleton, with its names and parents")],
        description="Which joints the dataset has")
    end_sites: BoolProperty(
        name="Keep End Sites", default=False,
        description="With Source Joints: keep the End Sites (bone tips) as joints too")
    preset: EnumProperty(
        name="Skeleton Preset", items=PRESET_ITEMS, default="auto",
        description="How the skeleton's joints map onto Human3.6M's (auto-detected by default)")
    mapping: StringProperty(
        name="Mapping File", subtype="FILE_PATH", default="",
        description="Optional JSON file mapping Human3.6M joints to your joint names (overrides the preset)")
    auto_scale: BoolProperty(
        name="Auto Scale", default=True,
        description="BVH: pick the unit (m, cm, mm, inch, CMU units) that gives a human height")
    scale: FloatProperty(
        name="Scale", default=1.0, min=1e-6, soft_max=10.0, precision=4,
        description="Metres per BVH unit when Auto Scale is off (e.g. 0.01 for centimetres)")
    resample: BoolProperty(
        name="Resample", default=False,
        description="Resample every take to FPS frames per second (rotations interpolated, bone lengths kept); "
                    "off: each file keeps its own frame rate (the command line without --fps)")
    fps: FloatProperty(
        name="Frame Rate", default=30.0, min=0.01, soft_max=240.0,
        description="With Resample: the frames per second to resample every take to")
    # Cameras
    rig_type: EnumProperty(name="Rig", items=RIG_TYPES, default="H36M", description="The camera rig")
    rig_count: IntProperty(
        name="Cameras", default=8, min=1, soft_max=64,
        description="Number of cameras of a Ring or Random rig")
    dome_rings: StringProperty(
        name="Dome Rings", default="8@0,8@30,8@60",
        description="Rings of a Dome rig: COUNT@ELEVATION degrees, comma separated")
    rig_file: StringProperty(
        name="Rig File", subtype="FILE_PATH", default="",
        description="JSON rig file: {\"cameras\": [...]} (see README)")
    distance: FloatProperty(
        name="Distance", default=5.0, min=1e-6, soft_max=5000.0, unit="LENGTH",
        description="Camera distance from the centre of the motion (before fitting), in the scene's units")
    height: FloatProperty(
        name="Camera Height", default=1.6, soft_min=-1000.0, soft_max=2000.0, unit="LENGTH",
        description="Camera height above the floor for Human3.6M and Ring rigs, in the scene's units")
    focal: FloatProperty(
        name="Focal Length (px)", default=1145.0, min=1.0, soft_max=10000.0,
        description="Focal length in pixels for Ring, Dome, Random and rig-file cameras")
    res_w: IntProperty(name="Width", default=1000, min=16, soft_max=8192, subtype="PIXEL",
                       description="Image width in pixels (Ring, Dome, Random, rig-file cameras)")
    res_h: IntProperty(name="Height", default=1000, min=16, soft_max=8192, subtype="PIXEL",
                       description="Image height in pixels (Ring, Dome, Random, rig-file cameras)")
    fit: BoolProperty(
        name="Fit to Motion", default=True,
        description="Move each camera back until every joint of every frame is inside its image")
    margin: FloatProperty(
        name="Margin (px)", default=20.0, min=0.0, soft_max=200.0,
        description="Pixels kept free at the image border when fitting")
    distortion: StringProperty(
        name="Distortion", default="none",
        description="Lens distortion: none, h36m (Human3.6M's), or k1,k2,k3,p1,p2")
    seed: IntProperty(name="Seed", default=0, min=0, description="Seed of Random rigs")
    # Output
    output_dir: StringProperty(
        name="Output Folder", subtype="DIR_PATH", default="",
        description="Folder to write the dataset into (created if missing)")
    dataset_name: StringProperty(
        name="Dataset Name", default="blender",
        description="Files are data_3d_NAME.npz and data_2d_NAME_gt.npz; use -d NAME in VideoPose3D")
    overwrite: BoolProperty(
        name="Overwrite", default=False,
        description="Replace a dataset that already exists in the output folder")
    strict: BoolProperty(
        name="Strict", default=False,
        description="Stop at the first bad file and write nothing (default: skip bad files, list them)")
    preview: BoolProperty(
        name="Preview Image", default=False,
        description="Also write preview_NAME.png, a contact sheet of 2D skeletons (needs matplotlib)")
    # Realistic 2D (issue 9): the same settings as --keypoints, --noise, --noise-seed, --layout-2d, --occlusion
    detector: BoolProperty(
        name="Detector Keypoints", default=False,
        description="Also write data_2d_NAME_detector.npz: detector-like 2D (noise model below) with per-joint "
                    "confidences, for VideoPose3D's -k detector (as --keypoints gt,detector)")
    noise: StringProperty(
        name="Noise Model", default="cpn",
        description="Detector noise: cpn (default: MotionBERT's fitted per-joint noise, ~5 px like a fine-tuned "
                    "CPN, swaps, gross errors; see README), coco (a COCO-17 detector through MotionBERT's coco2h36m), "
                    "gauss:SIGMA_PX, or a JSON file of parameters")
    noise_seed: IntProperty(
        name="Noise Seed", default=-1, min=-1,
        description="Seed of the detector noise; -1 uses the rig's Seed (as --noise-seed left out)")
    layout_2d: EnumProperty(
        name="2D Layout", default="h36m17",
        items=[("h36m17", "Human3.6M-17", "2D keypoints in the order of the 3D joints"),
               ("coco17", "COCO-17", "2D keypoints in COCO order (nose, eyes, ears, shoulders, ...), face points "
                                     "from the head; the 3D stays Human3.6M-17")],
        description="Order of the 2D keypoints in every 2D file (as --layout-2d)")
    occlusion: BoolProperty(
        name="Occlusion Mask", default=False,
        description="Also write the self-occlusion mask 'occluded' when no detector keypoints are written "
                    "(as --occlusion; always written with them)")
    last_report: StringProperty(
        name="Last Report", default="",
        description="What the last Generate Dataset wrote in this session (cleared when a file is opened)")


CLASSES = (HPD3DSettings,)


def attach():
    bpy.types.Scene.hpd3d = bpy.props.PointerProperty(type=HPD3DSettings, name="HPD3D",
                                                      description="HPD3D dataset generator settings")


def detach():
    if hasattr(bpy.types.Scene, "hpd3d"):
        del bpy.types.Scene.hpd3d
