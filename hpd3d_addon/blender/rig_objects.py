"""The rig as Blender objects: the collection 'HPD3D Rig' and the camera objects Build Rig made in it.

What Build Rig makes carries a custom property (the collection COLLECTION_TAG, each camera CAMERA_TAG = its
camera id), so it is found again after the user renamed or deleted the collection (the Outliner's Delete
moves the objects up a level) or renamed the cameras, and only those cameras are ever replaced: the
user's own cameras in the collection stay. Objects are never looked up by name after creation.
"""
import bpy

from .scene_cameras import apply_camera

RIG_COLLECTION = "HPD3D Rig"
COLLECTION_TAG = "hpd3d_rig"
CAMERA_TAG = "hpd3d_rig_camera"


def rig_collection(scene, create=False):
    """The rig collection (the tagged one, else the one named 'HPD3D Rig'), linked to the scene when
    create; None when there is none and not create."""
    coll = next((c for c in bpy.data.collections if c.get(COLLECTION_TAG)), None)
    if coll is None:
        coll = bpy.data.collections.get(RIG_COLLECTION)
    if not create:
        return coll
    if coll is None:
        coll = bpy.data.collections.new(RIG_COLLECTION)
    coll[COLLECTION_TAG] = True
    if not _in_scene(coll, scene.collection):
        scene.collection.children.link(coll)
    return coll


def _in_scene(coll, parent):
    return any(c == coll or _in_scene(coll, c) for c in parent.children)


def rig_camera_objects(scene):
    """Camera objects of the rig collection (its children included), sorted by name."""
    coll = rig_collection(scene)
    return sorted((o for o in coll.all_objects if o.type == "CAMERA"), key=lambda o: o.name) if coll else []


def made_cameras(scene):
    """{camera id: object} of the cameras Build Rig made that are still in the scene."""
    found = {}
    for obj in sorted(scene.objects, key=lambda o: o.name):
        tag = obj.get(CAMERA_TAG) if obj.type == "CAMERA" else None
        if tag is not None and str(tag) not in found:
            found[str(tag)] = obj
    return found


def place_rig(scene, cameras, metres_per_unit):
    """Make the scene's rig objects show `cameras` (core Cameras): reuse or create the tagged camera
    objects, remove tagged ones the rig no longer has; untagged cameras are left alone. Returns the
    collection and the camera objects in the rig's order."""
    coll = rig_collection(scene, create=True)
    render = scene.render
    old = made_cameras(scene)
    wanted = {str(c.id) for c in cameras}
    for cam_id, obj in old.items():
        if cam_id not in wanted:
            data = obj.data
            bpy.data.objects.remove(obj)
            if data is not None and data.users == 0:
                bpy.data.cameras.remove(data)
    objects = []
    for cam in cameras:
        obj = old.get(str(cam.id))
        if obj is None:
            name = f"HPD3D {cam.id}"
            obj = bpy.data.objects.new(name, bpy.data.cameras.new(name))
            obj[CAMERA_TAG] = str(cam.id)
        if coll not in obj.users_collection:
            coll.objects.link(obj)
        if obj.name in scene.collection.objects:  # moved up when the collection was deleted
            scene.collection.objects.unlink(obj)
        apply_camera(obj, cam, render, metres_per_unit)
        obj.data.display_size = 0.3 / metres_per_unit
        objects.append(obj)
    if scene.camera is None or scene.camera.name not in coll.all_objects:
        scene.camera = objects[0]
    return coll, objects
