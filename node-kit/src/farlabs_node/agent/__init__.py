"""The discovery agent: registration, heartbeats and unregistration with the reference server."""

from farlabs_node.agent.client import DiscoveryAgent, NodeIdentity, ServingInfo
from farlabs_node.agent.hardware import hardware_snapshot, hardware_summary

__all__ = ["DiscoveryAgent", "NodeIdentity", "ServingInfo", "hardware_snapshot", "hardware_summary"]
