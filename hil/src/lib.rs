//! The serial hardware-in-the-loop bridge: not built yet, see issue "Serial HIL bridge".
