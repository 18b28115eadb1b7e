"""The simulated imaging department: real DICOM peers on loopback, used by the demo and the tests."""
