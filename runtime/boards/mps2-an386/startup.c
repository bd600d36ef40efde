/*===- startup.c - A Cortex-M4 program's start on qemu's mps2-an386 -------===*
 *
 * What a board's startup code does before main, for the MPS2 AN386 image
 * (a Cortex-M4 with FPU) that qemu-system-arm emulates: the vector table
 * (the stack's top and the reset handler, at address 0), the FPU switched
 * on before any float instruction, .data copied from flash to RAM and .bss
 * zeroed (memory.ld lays them out), newlib's semihosting opened (printf
 * reaches the host's terminal with `-semihosting-config enable=on`), then
 * main; its status ends qemu through semihosting's SYS_EXIT_EXTENDED, so
 * qemu's own exit status is main's. A fault prints "fault" and ends with
 * status 99.
 *
 *   arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard
 *     -mfpu=fpv4-sp-d16 -nostartfiles --specs=rdimon.specs -T memory.ld
 *     startup.c main.c ... -lm
 *   qemu-system-arm -machine mps2-an386 -nographic -monitor none
 *     -serial none -semihosting-config enable=on,target=native -kernel a.elf
 *
 *===----------------------------------------------------------------------===*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _stack_top;
extern int main(void);
extern void initialise_monitor_handles(void);

/* Semihosting: operation 0x20 (SYS_EXIT_EXTENDED) with "application exit"
 * and the status, through the M-profile's breakpoint 0xab. */
__attribute__((noreturn)) static void semihost_exit(int status) {
  uint32_t block[2] = {0x20026u, (uint32_t)status};
  register uint32_t r0 __asm("r0") = 0x20u;
  register uint32_t *r1 __asm("r1") = block;
  __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  for (;;)
    ;
}

/* newlib's exit() ends here, after flushing stdio. */
void _exit(int status) { semihost_exit(status); }
/* exit() runs the fini array through _fini, which crti.o would give. */
void _fini(void) {}

void Reset_Handler(void) {
  /* CPACR: full access to the FPU (CP10, CP11). */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm volatile("dsb\n\tisb");
  for (uint32_t *src = &_sidata, *dst = &_sdata; dst < &_edata;)
    *dst++ = *src++;
  for (uint32_t *dst = &_sbss; dst < &_ebss;)
    *dst++ = 0;
  initialise_monitor_handles();
  exit(main());
}

static void Fault_Handler(void) {
  fputs("fault\n", stderr);
  semihost_exit(99);
}

/* The stack's top, then the handlers: reset, NMI, hard fault, memory
 * management, bus and usage faults, four reserved, SVCall, debug monitor,
 * one reserved, PendSV, SysTick. */
__attribute__((section(".vectors"),
               used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&_stack_top,
    Reset_Handler,
    Fault_Handler,
    Fault_Handler,
    Fault_Handler,
    Fault_Handler,
    Fault_Handler,
    0,
    0,
    0,
    0,
    Fault_Handler,
    Fault_Handler,
    0,
    Fault_Handler,
    Fault_Handler};
