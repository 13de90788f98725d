# SPDX-License-Identifier: Apache-2.0
"""Demo: play a video (or image folder, or camera) into movenet_node, optionally with RViz.

    ros2 launch movenet_ros demo.launch.py source:=/path/to/video.mp4
    ros2 launch movenet_ros demo.launch.py source:=/dev/video0 mode:=multipose rviz:=true
    ros2 launch movenet_ros demo.launch.py source:=video.mp4 mode:=multipose refine:=thunder

video_publisher publishes image + camera_info in frame camera_optical_frame (the fixed
frame of config/movenet.rviz); movenet.launch.py runs the node on them. Raw frames of HD
video are too big for Fast DDS's default best-effort delivery, so the publisher runs with
the shared-memory profile config/fastdds_large_images.xml (only the publisher needs it).
"""

from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.conditions import IfCondition
from launch.launch_description import LaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'movenet_ros'
MODES = ['singlepose_lightning', 'singlepose_thunder', 'multipose']
REFINERS = ['none', 'thunder', 'lightning']
BOOLEANS = ['true', 'false']
# The frame the RViz config is fixed to.
FRAME_ID = 'camera_optical_frame'


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments, the publisher, the included movenet launch and RViz."""
    share = FindPackageShare(PACKAGE)
    source = LaunchConfiguration('source')
    rate = LaunchConfiguration('rate')
    loop = LaunchConfiguration('loop')
    mode = LaunchConfiguration('mode')
    refine = LaunchConfiguration('refine')
    image = LaunchConfiguration('image')
    rviz = LaunchConfiguration('rviz')
    depth = LaunchConfiguration('depth')

    video_publisher = Node(
        package=PACKAGE,
        executable='video_publisher',
        name='video_publisher',
        output='screen',
        emulate_tty=True,
        parameters=[{
            # Typed: a camera index such as 0 must stay a string, a rate such as 30 a double.
            'source': ParameterValue(source, value_type=str),
            'rate': ParameterValue(rate, value_type=float),
            'loop': ParameterValue(loop, value_type=bool),
            'frame_id': FRAME_ID,
            # Hold the first frame until movenet_node (which loads its model first) listens.
            'wait_for_subscribers': 1,
        }],
        remappings=[
            ('image', image),
            ('image/compressed', [image, '/compressed']),
        ],
        additional_env={
            'FASTRTPS_DEFAULT_PROFILES_FILE':
                PathJoinSubstitution([share, 'config', 'fastdds_large_images.xml']),
        },
    )

    movenet = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([share, 'launch', 'movenet.launch.py'])),
        launch_arguments={'mode': mode, 'refine': refine, 'image': image,
                          'depth': depth}.items(),
    )

    rviz_node = Node(
        package='rviz2',
        executable='rviz2',
        name='rviz2',
        output='screen',
        arguments=['-d', PathJoinSubstitution([share, 'config', 'movenet.rviz'])],
        condition=IfCondition(rviz),
    )

    return LaunchDescription([
        DeclareLaunchArgument(
            'source',
            description='Required. What to play: a video file, a folder of images, one image, '
                        'a camera index (0) or a device (/dev/video0).'),
        DeclareLaunchArgument(
            'rate', default_value='0',
            description="Publishing rate in Hz; 0 plays at the source's own frame rate."),
        DeclareLaunchArgument(
            'loop', default_value='true', choices=BOOLEANS,
            description='Start a video file or image folder again at its end.'),
        DeclareLaunchArgument(
            'mode', default_value='singlepose_lightning', choices=MODES,
            description='MoveNet model, passed to movenet.launch.py: singlepose_lightning, '
                        'singlepose_thunder or multipose.'),
        DeclareLaunchArgument(
            'refine', default_value='none', choices=REFINERS,
            description='mode:=multipose only, passed to movenet.launch.py: refine each person '
                        'with a single-pose model (none, thunder or lightning).'),
        DeclareLaunchArgument(
            'image', default_value='image',
            description='Image topic between the publisher and movenet_node.'),
        DeclareLaunchArgument(
            'depth', default_value='false', choices=BOOLEANS,
            description='true for an RGB-D folder source (camera.json, color/, depth/): the '
                        'publisher plays its depth on depth/image and movenet_node lifts the '
                        'poses to 3D.'),
        DeclareLaunchArgument(
            'rviz', default_value='false', choices=BOOLEANS,
            description='Also start RViz with config/movenet.rviz (annotated image and 3D '
                        'pose markers).'),
        video_publisher,
        movenet,
        rviz_node,
    ])
