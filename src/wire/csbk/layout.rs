//! Field plumbing shared by the CSBK bodies: the [`Field`] conversion, the `layout!` macro that
//! declares a body by its absolute bit positions (docs/air-interface.md §3.1 conventions: bit 0 is the
//! MSB of octet 0, a CSBK's data bits are abs 16..=79), and the `open_enum!` macro for coded
//! values that keeps unknown codes as `Unknown(raw)` (smoltcp `enum_with_unknown!`).
//!
//! Every layout lists its reserved bits as fields too, so `parse` then `emit` gives back the
//! block bit for bit; the tests check that each layout covers abs 16..=79 exactly once.

/// A value stored in a fixed-width bit field.
///
/// `from_raw` receives at most as many bits as the layout gives the field; `to_raw` may return
/// more, and the writer keeps only the field's low bits.
pub trait Field: Sized {
    /// Build the value from the field's bits.
    fn from_raw(raw: u64) -> Self;
    /// The field's bits.
    fn to_raw(&self) -> u64;
}

impl Field for bool {
    fn from_raw(raw: u64) -> Self {
        raw != 0
    }
    fn to_raw(&self) -> u64 {
        u64::from(*self)
    }
}

macro_rules! field_uint {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn from_raw(raw: u64) -> Self {
                // The layouts give each integer field at most the width of its type.
                raw as $t
            }
            fn to_raw(&self) -> u64 {
                u64::from(*self)
            }
        }
    )*};
}
field_uint!(u8, u16, u32, u64);

/// Declare a body struct by absolute bit positions `[start, len]` inside the 12-octet block.
macro_rules! layout {
    (
        $(#[$m:meta])*
        pub struct $name:ident {
            $( $(#[$fm:meta])* $field:ident : $ty:ty = [$start:literal, $len:literal] ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
        pub struct $name {
            $( $(#[$fm])* pub $field: $ty, )*
        }

        impl $name {
            /// `(start, len)` of every field, absolute bit positions in the block.
            #[cfg(test)]
            pub(crate) const FIELDS: &'static [(usize, usize)] = &[$(($start, $len)),*];

            /// Read every field from a 12-octet block.
            // Always inlined into the (FID, opcode) match of `CsbkBody::read`, where the field
            // reads fold to shifts and each body is built in place: as a call (too big for the
            // inliner before that folding), every body came back through memory and was copied
            // again, and those copies stalled on store forwarding.
            #[inline(always)]
            pub(crate) fn read(block: &[u8]) -> Self {
                Self {
                    $( $field: <$ty as $crate::wire::csbk::layout::Field>::from_raw(
                        $crate::wire::bits::get(block, $start, $len)), )*
                }
            }

            /// Write every field into a 12-octet block.
            pub(crate) fn write(&self, block: &mut [u8]) {
                $( $crate::wire::bits::put(block, $start, $len,
                    $crate::wire::csbk::layout::Field::to_raw(&self.$field)); )*
            }
        }
    };
}

/// Declare a coded value whose unknown codes are kept as `Unknown(raw)`.
macro_rules! open_enum {
    (
        $(#[$m:meta])*
        pub enum $name:ident {
            $( $(#[$vm:meta])* $var:ident = $val:literal ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vm])* $var, )*
            /// A code this decoder does not know, kept as received.
            Unknown(u8),
        }

        impl From<u8> for $name {
            fn from(raw: u8) -> Self {
                match raw {
                    $( $val => $name::$var, )*
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for u8 {
            fn from(value: $name) -> u8 {
                match value {
                    $( $name::$var => $val, )*
                    $name::Unknown(raw) => raw,
                }
            }
        }

        impl $crate::wire::csbk::layout::Field for $name {
            fn from_raw(raw: u64) -> Self {
                // Coded fields are at most 8 bits wide.
                $name::from(raw as u8)
            }
            fn to_raw(&self) -> u64 {
                u64::from(u8::from(*self))
            }
        }
    };
}
