//! A small unsigned big integer, just enough to convert between decimal
//! text and binary floating point *exactly*: parsing a number correctly
//! rounded, and printing a float's exact value to a fixed number of
//! decimals. Only `float.rs` uses it, and only off the hot path (scores in
//! hexadecimal, INCRBYFLOAT, HINCRBYFLOAT).

use std::cmp::Ordering;

/// Little-endian 32-bit limbs, no high zero limbs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Big(Vec<u32>);

impl Big {
    pub fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of significant bits.
    pub fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => self.0.len() as u64 * 32 - u64::from(top.leading_zeros()),
        }
    }

    /// `self * m + a`.
    pub fn mul_add_small(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    /// `self * 5^n`.
    pub fn mul_pow5(&mut self, mut n: u64) {
        const FIVE_13: u32 = 1_220_703_125; // the largest power of 5 in a u32
        while n >= 13 {
            self.mul_add_small(FIVE_13, 0);
            n -= 13;
        }
        self.mul_add_small(5u32.pow(n as u32), 0);
    }

    /// `self * 10^n`.
    pub fn mul_pow10(&mut self, n: u64) {
        self.mul_pow5(n);
        self.shl(n);
    }

    /// Divides by `d` in place; returns the remainder.
    pub fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for limb in self.0.iter_mut().rev() {
            let v = (rem << 32) | u64::from(*limb);
            *limb = (v / u64::from(d)) as u32;
            rem = v % u64::from(d);
        }
        self.trim();
        rem as u32
    }

    /// Divides by `5^n` in place; returns whether anything was left over.
    pub fn div_pow5(&mut self, mut n: u64) -> bool {
        const FIVE_13: u32 = 1_220_703_125;
        let mut inexact = false;
        while n >= 13 {
            inexact |= self.div_small(FIVE_13) != 0;
            n -= 13;
        }
        inexact |= self.div_small(5u32.pow(n as u32)) != 0;
        inexact
    }

    /// `self << n`.
    pub fn shl(&mut self, n: u64) {
        if self.is_zero() {
            return;
        }
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        if bits > 0 {
            let mut carry = 0;
            for limb in &mut self.0 {
                let v = (*limb << bits) | carry;
                carry = *limb >> (32 - bits);
                *limb = v;
            }
            if carry > 0 {
                self.0.push(carry);
            }
        }
        self.0.splice(0..0, std::iter::repeat_n(0, limbs));
    }

    /// `self >> n`, the bits shifted out dropped.
    pub fn shr(&mut self, n: u64) {
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        self.0.drain(..limbs.min(self.0.len()));
        if bits > 0 {
            let mut carry = 0;
            for limb in self.0.iter_mut().rev() {
                let v = (*limb >> bits) | carry;
                carry = *limb << (32 - bits);
                *limb = v;
            }
        }
        self.trim();
    }

    /// Bit `i` (0 is the lowest).
    pub fn bit(&self, i: u64) -> bool {
        let limb = (i / 32) as usize;
        limb < self.0.len() && (self.0[limb] >> (i % 32)) & 1 == 1
    }

    /// Whether any bit below bit `i` is set.
    pub fn any_below(&self, i: u64) -> bool {
        let limb = ((i / 32) as usize).min(self.0.len());
        if self.0[..limb].iter().any(|&l| l != 0) {
            return true;
        }
        limb < self.0.len() && !i.is_multiple_of(32) && self.0[limb] & ((1 << (i % 32)) - 1) != 0
    }

    /// `self >> n`, at most 64 bits of it.
    pub fn shr_u64(&self, n: u64) -> u64 {
        let mut v = 0u64;
        for k in 0..64 {
            if self.bit(n + k) {
                v |= 1 << k;
            }
        }
        v
    }

    pub fn add(&mut self, other: &Big) {
        if other.0.len() > self.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        let mut carry = 0u64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let v = u64::from(*limb) + u64::from(other.0.get(i).copied().unwrap_or(0)) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    /// `self - other`; `other` must not be larger.
    pub fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let v = i64::from(*limb) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(v < 0);
            *limb = v.rem_euclid(1 << 32) as u32;
        }
        self.trim();
    }

    pub fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// The number in decimal.
    pub fn to_decimal(&self) -> String {
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_small(1_000_000_000));
        }
        let mut s = chunks
            .pop()
            .map_or_else(|| "0".to_string(), |c| c.to_string());
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

/// A binary float format: precision and exponent range.
#[derive(Clone, Copy)]
pub struct Format {
    /// Significant bits, the leading one included.
    pub precision: u64,
    /// Exponent of the lowest bit of the smallest subnormal.
    pub min_exp: i64,
    /// Largest exponent of the leading bit.
    pub max_exp: i64,
}

/// What rounding an exact value to a format gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Rounded {
    /// `mantissa * 2^exp`; the mantissa is below 2^precision.
    Finite { mantissa: u64, exp: i64 },
    /// Too small even for a subnormal: underflow (zero unless exact zero).
    Zero { exact: bool },
    /// Too large: overflow.
    Infinite,
}

/// Rounds `n * 2^exp` (plus a little more when `sticky`: the true value
/// had bits below `n`'s last) to `format`, to nearest, ties to even. A
/// sticky caller must give `n` at least `precision + 2` bits.
pub fn round(n: &Big, exp: i64, sticky: bool, format: Format) -> Rounded {
    if n.is_zero() {
        return Rounded::Zero { exact: !sticky };
    }
    let bits = n.bits() as i64;
    let mut shift = bits - format.precision as i64;
    if exp + shift < format.min_exp {
        shift = format.min_exp - exp;
    }
    let (mut mantissa, mut e) = if shift > 0 {
        let s = shift as u64;
        let kept = n.shr_u64(s);
        let half = n.bit(s - 1);
        let below = sticky || n.any_below(s - 1);
        let up = half && (below || kept & 1 == 1);
        (u128::from(kept) + u128::from(up), exp + shift)
    } else {
        (u128::from(n.shr_u64(0)) << (-shift) as u32, exp + shift)
    };
    // Rounding up can carry into one more bit: 2^p = 2^(p-1) * 2.
    if mantissa >> format.precision == 1 {
        mantissa >>= 1;
        e += 1;
    }
    let mantissa = mantissa as u64;
    if mantissa == 0 {
        return Rounded::Zero { exact: false };
    }
    let top = e + 63 - i64::from(mantissa.leading_zeros());
    if top > format.max_exp {
        return Rounded::Infinite;
    }
    Rounded::Finite { mantissa, exp: e }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_and_decimal_output() {
        let mut n = Big::from_u64(u64::MAX);
        n.mul_pow10(20);
        assert_eq!(n.to_decimal(), "1844674407370955161500000000000000000000");
        assert!(!n.div_pow5(20));
        n.add(&Big::from_u64(1));
        assert!(n.div_pow5(1));
        let mut a = Big::from_u64(1);
        a.shl(100);
        let mut b = a.clone();
        b.sub(&Big::from_u64(1));
        assert_eq!(b.bits(), 100);
        assert_eq!(a.cmp(&b), Ordering::Greater);
        assert!(b.any_below(1) && !a.any_below(100) && a.bit(100));
    }

    #[test]
    fn rounding_is_to_nearest_even() {
        let f = Format {
            precision: 3,
            min_exp: -10,
            max_exp: 10,
        };
        let r = |v: u64, sticky| round(&Big::from_u64(v), 0, sticky, f);
        assert_eq!(
            r(0b1001, false),
            Rounded::Finite {
                mantissa: 0b100,
                exp: 1
            }
        ); // tie, even
        assert_eq!(
            r(0b1011, false),
            Rounded::Finite {
                mantissa: 0b110,
                exp: 1
            }
        ); // tie, up
        assert_eq!(
            r(0b1001, true),
            Rounded::Finite {
                mantissa: 0b101,
                exp: 1
            }
        );
        assert_eq!(
            r(0b1111, false),
            Rounded::Finite {
                mantissa: 0b100,
                exp: 2
            }
        );
        assert_eq!(round(&Big::from_u64(1), 11, false, f), Rounded::Infinite);
    }
}
