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

The node reads its parameters from share/movenet_ros/config/<mode>.yaml unless params_file
names another file. Its topics are relative (image, camera_info, poses, pose_markers,
image_annotated; with depth: depth/image, depth/camera_info, people), so `namespace` moves
them all and `image` / `camera_info` pick the input. Depth is on with depth:=true, or as soon
as `depth_image` names another topic (the node turns depth on when depth/image is remapped).
movenet_node is a managed (lifecycle) node, started as a launch_ros LifecycleNode: with
autostart:=true (the default) it configures and activates itself; with autostart:=false it
waits, unconfigured, for a lifecycle manager, `ros2 lifecycle set` or a launch ChangeState
event.
"""

from launch.actions import DeclareLaunchArgument
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'movenet_ros'
# One parameter file per mode, installed as share/movenet_ros/config/<mode>.yaml.
MODES = ['singlepose_lightning', 'singlepose_thunder', 'multipose']
REFINERS = ['none', 'thunder', 'lightning']
IMAGE_TRANSPORTS = ['raw', 'compressed']
LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal']
BOOLEANS = ['true', 'false']


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments and the movenet_node action."""
    mode = LaunchConfiguration('mode')
    params_file = LaunchConfiguration('params_file')
    image = LaunchConfiguration('image')
    camera_info = LaunchConfiguration('camera_info')
    image_transport = LaunchConfiguration('image_transport')
    refine = LaunchConfiguration('refine')
    namespace = LaunchConfiguration('namespace')
    node_name = LaunchConfiguration('node_name')
    log_level = LaunchConfiguration('log_level')
    autostart = LaunchConfiguration('autostart')
    depth = LaunchConfiguration('depth')
    depth_image = LaunchConfiguration('depth_image')
    depth_camera_info = LaunchConfiguration('depth_camera_info')

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
        LifecycleNode(
            package=PACKAGE,
            executable='movenet_node',
            name=node_name,
            namespace=namespace,
            output='screen',
            emulate_tty=True,
            # Later entries win: the launch arguments override the file's values.
            parameters=[params_file, {
                'image_transport': image_transport,
                'refine': refine,
                'autostart': ParameterValue(autostart, value_type=bool),
                'depth.enabled': ParameterValue(depth, value_type=bool),
            }],
            # Remapping matches whole names: image/compressed needs its own rule.
            remappings=[
                ('image', image),
                ('image/compressed', [image, '/compressed']),
                ('camera_info', camera_info),
                ('depth/image', depth_image),
                ('depth/camera_info', depth_camera_info),
            ],
            ros_arguments=['--log-level', log_level],
        ),
    ])
