# SPDX-License-Identifier: Apache-2.0
"""Start movenet_node on an image topic.

    ros2 launch movenet_ros movenet.launch.py image:=/camera/image_raw
    ros2 launch movenet_ros movenet.launch.py mode:=multipose namespace:=robot1
    ros2 launch movenet_ros movenet.launch.py mode:=multipose refine:=thunder   # most accurate
    ros2 launch movenet_ros movenet.launch.py image:=/camera/image_raw image_transport:=compressed
    ros2 launch movenet_ros movenet.launch.py autostart:=false   # for a lifecycle manager
    ros2 launch movenet_ros movenet.launch.py mode:=multipose \
        image:=/camera/camera/color/image_raw camera_info:=/camera/camera/color/camera_info \
        depth_image:=/camera/camera/aligned_depth_to_color/image_raw \
        depth_camera_info:=/camera/camera/aligned_depth_to_color/camera_info   # RealSense, 3D
    ros2 launch movenet_ros movenet.launch.py mode:=multipose \
        camera_remappings:=robot_cameras.yaml              # several cameras, one model

The node reads its parameters from share/movenet_ros/config/<mode>.yaml unless params_file
names another file. Its topics are relative (image, camera_info, poses, pose_markers,
image_annotated; with depth: depth/image, depth/camera_info, people), so `namespace` moves
them all and `image` / `camera_info` pick the input. Depth is on with depth:=true, or as soon
as `depth_image` names another topic (the node turns depth on when depth/image is remapped).
movenet_node is a managed (lifecycle) node, started as a launch_ros LifecycleNode: with
autostart:=true (the default) it configures and activates itself; with autostart:=false it
waits, unconfigured, for a lifecycle manager, `ros2 lifecycle set` or a launch ChangeState
event.

Several cameras: ``cameras:='[front, back]'`` makes camera ``front`` read ``front/image``
and ``front/camera_info`` and publish ``front/poses``, ... (see the README). A
``camera_remappings`` file points each camera's topics at the robot's, one camera per key::

    front:
      image: /robot/front_camera/image_raw   # image/compressed follows: .../image_raw/compressed
      camera_info: /robot/front_camera/camera_info
    back:
      image: /robot/back_camera/image_raw
      poses: /people/back                    # outputs can be remapped too
      depth/image: /robot/back_camera/aligned_depth/image_raw   # turns depth on for back

Its keys are the cameras unless ``cameras`` names them.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.launch_context import LaunchContext
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare
import yaml

PACKAGE = 'movenet_ros'
# One parameter file per mode, installed as share/movenet_ros/config/<mode>.yaml.
MODES = ['singlepose_lightning', 'singlepose_thunder', 'multipose']
REFINERS = ['none', 'thunder', 'lightning']
IMAGE_TRANSPORTS = ['raw', 'compressed']
LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal']
BOOLEANS = ['true', 'false']
# A camera's topics a remapping file may name (relative to the camera): its inputs, outputs.
CAMERA_TOPICS = ['image', 'camera_info', 'depth/image', 'depth/camera_info', 'poses',
                 'pose_markers', 'image_markers/bones', 'image_markers/keypoints',
                 'image_annotated', 'people']


def camera_list(text: str) -> list[str]:
    """The ``cameras`` argument, a YAML list of names, or one name ('' or '[]': not given)."""
    names = yaml.safe_load(text) if text.strip() else []
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"cameras:={text!r}: give a list of names, e.g. cameras:='[front, back]'")
    return names


def camera_remappings(path: str) -> dict[str, dict[str, str]]:
    """The ``camera_remappings`` file: {camera: {topic: target}}; ValueError if malformed."""
    if not path:
        return {}
    with open(path, encoding='utf-8') as stream:
        data = yaml.safe_load(stream) or {}
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a mapping camera -> {{topic: target}}')
    for camera, topics in data.items():
        if not isinstance(camera, str) or not isinstance(topics, dict):
            raise ValueError(f'{path}: camera {camera!r} needs a mapping topic -> target')
        for topic, target in topics.items():
            if topic not in CAMERA_TOPICS or not isinstance(target, str) or not target:
                raise ValueError(f'{path}: {camera}.{topic}: a topic is one of '
                                 f'{", ".join(CAMERA_TOPICS)}, its target a topic name')
    return data


def movenet_node(context: LaunchContext) -> list[LifecycleNode]:
    """The node, with its cameras and their remappings (read when the launch runs)."""
    remapped = camera_remappings(LaunchConfiguration('camera_remappings').perform(context))
    cameras = camera_list(LaunchConfiguration('cameras').perform(context)) or list(remapped)
    image = LaunchConfiguration('image')
    # Remapping matches whole names: image/compressed needs its own rule.
    remappings = [('image', image), ('image/compressed', [image, '/compressed']),
                  ('camera_info', LaunchConfiguration('camera_info')),
                  ('depth/image', LaunchConfiguration('depth_image')),
                  ('depth/camera_info', LaunchConfiguration('depth_camera_info'))]
    for camera, topics in remapped.items():
        for topic, target in topics.items():
            remappings.append((f'{camera}/{topic}', target))
            if topic == 'image':
                remappings.append((f'{camera}/image/compressed', f'{target}/compressed'))
    overrides = {
        'image_transport': LaunchConfiguration('image_transport'),
        'refine': LaunchConfiguration('refine'),
        'autostart': ParameterValue(LaunchConfiguration('autostart'), value_type=bool),
        'depth.enabled': ParameterValue(LaunchConfiguration('depth'), value_type=bool),
    }
    if cameras:
        overrides['cameras'] = cameras
    return [LifecycleNode(
        package=PACKAGE,
        executable='movenet_node',
        name=LaunchConfiguration('node_name'),
        namespace=LaunchConfiguration('namespace'),
        output='screen',
        emulate_tty=True,
        # Later entries win: the launch arguments override the file's values.
        parameters=[LaunchConfiguration('params_file'), overrides],
        remappings=remappings,
        ros_arguments=['--log-level', LaunchConfiguration('log_level')],
    )]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments; the node is made when the launch runs (:func:`movenet_node`)."""
    mode = LaunchConfiguration('mode')
    # <share>/config/<mode>.yaml: the path join ends in the mode, '.yaml' is appended to it.
    mode_params_file = [
        PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', mode]), '.yaml']

    return LaunchDescription([
        DeclareLaunchArgument(
            'mode', default_value='singlepose_lightning', choices=MODES,
            description='Which MoveNet model to run: singlepose_lightning (fastest, one '
                        'person), singlepose_thunder (more accurate, one person) or multipose '
                        '(up to 6 people). Selects the parameter file config/<mode>.yaml.'),
        DeclareLaunchArgument(
            'refine', default_value='none', choices=REFINERS,
            description='mode:=multipose only: refine each person MultiPose finds with this '
                        'single-pose model on a crop around them (thunder: keypoint AP 0.19 '
                        '-> 0.34 on labelled photos, at a quarter of the frame rate; README, '
                        '"Accuracy"). none: MultiPose alone. Sets the parameter refine.'),
        DeclareLaunchArgument(
            'params_file', default_value=mode_params_file,
            description='Parameter YAML for the node (keyed /**: ros__parameters:). Defaults '
                        'to the installed config/<mode>.yaml; a file given here replaces it, '
                        'so `mode` is then ignored.'),
        DeclareLaunchArgument(
            'image', default_value='image',
            description='Input image topic (sensor_msgs/Image). With '
                        'image_transport:=compressed the node reads <image>/compressed instead.'),
        DeclareLaunchArgument(
            'camera_info', default_value='camera_info',
            description='CameraInfo topic of the input camera; used to place the pose markers '
                        '(without it the node assumes a 60 degree field of view).'),
        DeclareLaunchArgument(
            'image_transport', default_value='raw', choices=IMAGE_TRANSPORTS,
            description='raw: subscribe to <image> (sensor_msgs/Image); compressed: subscribe '
                        'to <image>/compressed (sensor_msgs/CompressedImage, JPEG or PNG).'),
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='Namespace of the node; its relative topics (image, camera_info, poses, '
                        'pose_markers, image_annotated) move with it. Empty: the root.'),
        DeclareLaunchArgument(
            'node_name', default_value='movenet',
            description='Name of the node (its parameter files apply to any name).'),
        DeclareLaunchArgument(
            'log_level', default_value='info', choices=LOG_LEVELS,
            description='Logging level of the node.'),
        DeclareLaunchArgument(
            'autostart', default_value='true', choices=BOOLEANS,
            description='true: the node configures and activates itself at start (exits 2 on '
                        'a bad configuration). false: it waits in the unconfigured state for '
                        'a lifecycle manager (configure, activate, deactivate, cleanup, '
                        'shutdown over its ~/change_state service).'),
        DeclareLaunchArgument(
            'depth', default_value='false', choices=BOOLEANS,
            description='true: lift the poses to 3D with a depth image aligned to the colour '
                        'image (depth_image, depth_camera_info) and publish people. Also on '
                        'when depth_image is set to another topic.'),
        DeclareLaunchArgument(
            'depth_image', default_value='depth/image',
            description='Depth image registered to the colour image (16UC1 mm or 32FC1 m), '
                        'e.g. RealSense /camera/camera/aligned_depth_to_color/image_raw. '
                        'Setting it turns depth on.'),
        DeclareLaunchArgument(
            'depth_camera_info', default_value='depth/camera_info',
            description='CameraInfo of depth_image, e.g. RealSense '
                        '/camera/camera/aligned_depth_to_color/camera_info.'),
        DeclareLaunchArgument(
            'cameras', default_value='',
            description="Names of the cameras the one node serves, a YAML list: "
                        "cameras:='[front, back]'. Camera c reads c/image and c/camera_info "
                        'and publishes c/poses, c/pose_markers, c/image_annotated. Empty: '
                        "the camera_remappings file's cameras, else the parameter file's "
                        '(one unnamed camera: image -> poses).'),
        DeclareLaunchArgument(
            'camera_remappings', default_value='',
            description='YAML file mapping each camera to its topics: {camera: {image: '
                        '/robot/front/image_raw, camera_info: ..., poses: ...}}. An image '
                        'remapping covers image/compressed too. Empty: no remapping.'),
        OpaqueFunction(function=movenet_node),
    ])
