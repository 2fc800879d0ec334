//! What a recurrent layer's backward pass keeps between steps: its weights transposed once per
//! pass ([`Transposed`]) and the weight-gradient updates collected over several steps
//! ([`Pending`]).

use crate::real::Real;

/// A recurrent layer's weight matrices transposed, built once per backward pass
/// ([`crate::Model::backward`]) so that the products `W^T v` walk contiguous columns.
#[derive(Clone, Copy, Debug)]
pub struct Transposed<T: Real, const I: usize, const H: usize, const G: usize> {
    /// `kernel^T`, `I x G`.
    pub kernel_t: nalgebra::SMatrix<T, I, G>,
    /// `recurrent_kernel^T`, `H x G`.
    pub recurrent_t: nalgebra::SMatrix<T, H, G>,
}

/// How many steps of weight-gradient updates a recurrent layer's backward pass collects before
/// applying them ([`crate::kernels::Outer`]).
pub const PENDING_STEPS: usize = 8;

/// A recurrent layer's weight-gradient updates not yet applied: made by the layer's
/// `pending()`, filled by its `backward`, applied by its `flush` (the generated backward pass
/// does all three).
#[derive(Clone, Copy, Debug)]
pub struct Pending<T: Real, const I: usize, const H: usize, const G: usize> {
    pub(crate) kernel: crate::kernels::Outer<T, G, I, PENDING_STEPS>,
    pub(crate) recurrent: crate::kernels::Outer<T, G, H, PENDING_STEPS>,
}

impl<T: Real, const I: usize, const H: usize, const G: usize> Pending<T, I, H, G> {
    /// Nothing pending.
    #[inline(always)]
    pub fn new() -> Self {
        Pending {
            kernel: crate::kernels::Outer::new(),
            recurrent: crate::kernels::Outer::new(),
        }
    }

    /// Applies the pending updates to the kernel and recurrent-kernel gradients.
    #[inline(always)]
    pub(crate) fn flush<M: crate::math::Math>(
        &mut self,
        m: M,
        kernel: &mut nalgebra::SMatrix<T, G, I>,
        recurrent_kernel: &mut nalgebra::SMatrix<T, G, H>,
    ) {
        self.kernel.flush(m, kernel);
        self.recurrent.flush(m, recurrent_kernel);
    }
}

impl<T: Real, const I: usize, const H: usize, const G: usize> Default for Pending<T, I, H, G> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real, const I: usize, const H: usize, const G: usize> Transposed<T, I, H, G> {
    /// Transposes both matrices.
    #[inline(always)]
    pub fn of(
        kernel: &nalgebra::SMatrix<T, G, I>,
        recurrent_kernel: &nalgebra::SMatrix<T, G, H>,
    ) -> Self {
        Transposed {
            kernel_t: crate::kernels::transpose(kernel),
            recurrent_t: crate::kernels::transpose(recurrent_kernel),
        }
    }

    /// [`of`](Self::of) written into `slot` in place.
    ///
    /// # Safety
    /// `slot` must be valid for writes and aligned; it need not be initialized.
    pub unsafe fn write_of(
        slot: *mut Self,
        kernel: &nalgebra::SMatrix<T, G, I>,
        recurrent_kernel: &nalgebra::SMatrix<T, G, H>,
    ) {
        // SAFETY: the caller's promise.
        unsafe {
            crate::kernels::transpose_in_place(kernel, core::ptr::addr_of_mut!((*slot).kernel_t));
            crate::kernels::transpose_in_place(
                recurrent_kernel,
                core::ptr::addr_of_mut!((*slot).recurrent_t),
            );
        }
    }

    /// The end of a recurrent cell's backward step, from the gradient `dz` w.r.t. its gate
    /// pre-activations `W x + U h (+ b)`: the kernel and recurrent-kernel gradients (through
    /// `pending`), the previous state's gradient `U^T dz` into `dh_prev`, and the input
    /// gradient `W^T dz`, returned. (The bias gradient, `dz` itself, is the cell's.)
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn linear_backward<M: crate::math::Math>(
        &self,
        pending: &mut Pending<T, I, H, G>,
        kernel: &nalgebra::SMatrix<T, G, I>,
        dz: &[T; G],
        x: &[T; I],
        h_prev: &[T; H],
        grad_kernel: &mut nalgebra::SMatrix<T, G, I>,
        grad_recurrent: &mut nalgebra::SMatrix<T, G, H>,
        dh_prev: &mut [T; H],
    ) -> [T; I] {
        pending.kernel.push(M::default(), grad_kernel, dz, x);
        pending
            .recurrent
            .push(M::default(), grad_recurrent, dz, h_prev);
        let mut dx = [T::ZERO; I];
        self.input_grad(M::default(), kernel, &mut dx, dz);
        *dh_prev = [T::ZERO; H];
        crate::kernels::gemv_acc(M::default(), dh_prev, &self.recurrent_t, dz);
        dx
    }

    /// `dx += kernel^T dz` (a dot product per input when the input is narrow).
    #[inline(always)]
    pub(crate) fn input_grad<M: crate::math::Math>(
        &self,
        m: M,
        kernel: &nalgebra::SMatrix<T, G, I>,
        dx: &mut [T; I],
        dz: &[T; G],
    ) {
        if I < 8 {
            crate::kernels::gemv_t_acc(m, dx, kernel, dz);
        } else {
            crate::kernels::gemv_acc(m, dx, &self.kernel_t, dz);
        }
    }
}
