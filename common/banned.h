/*
 * banned.h - turns unbounded string functions into compile errors.
 *
 * Included last by every cfaas source file (through common.h). Build text in
 * a capped `struct buf` (buf.h) instead.
 */
#ifndef CFAAS_BANNED_H
#define CFAAS_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gets
#define gets(x) BANNED(gets)

#endif
