#!/usr/bin/perl
# The benchmark's build step: waits for the go file, then prints LINES lines as fast as the
# pipe takes them. Line i (from 1) is sprintf('%08d ', i), then pool line (i-1) % 997 (390
# bytes), then "\n": 400 bytes. After each 64 KiB write it records "LAST_LINE TIME_MS" in
# TIMES, when that output had entered the pipe: what the follow-delay figure is measured from.
use strict;
use warnings;
use Time::HiRes qw(time sleep);

my ($lines, $pool_file, $go_file, $times_file) = @ARGV;
die "usage: gen.pl LINES POOL GO TIMES\n" unless defined $times_file;
open(my $pf, '<', $pool_file) or die "cannot read $pool_file: $!\n";
my @pool = <$pf>;
close $pf;
chomp @pool;
die "pool must hold 997 lines\n" unless @pool == 997;

sleep(0.002) until -e $go_file;

my @times;
my $buf = '';
for my $i (1 .. $lines) {
  $buf .= sprintf("%08d %s\n", $i, $pool[($i - 1) % 997]);
  if (length($buf) >= 65536 || $i == $lines) {
    my $off = 0;
    while ($off < length($buf)) {
      my $n = syswrite(STDOUT, $buf, length($buf) - $off, $off);
      die "write failed: $!\n" unless defined $n;
      $off += $n;
    }
    push @times, sprintf("%d %.3f", $i, time() * 1000);
    $buf = '';
  }
}
open(my $tf, '>', $times_file) or die "cannot write $times_file: $!\n";
print $tf join("\n", @times), "\n";
close $tf;
